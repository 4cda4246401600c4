"""WeChat mini-program subscribe messages (订阅消息), spoken over WeChat's HTTP API.

- An access token from `POST /cgi-bin/stable_token`, kept and renewed as integrations/wechat_api.py
  says (shared with the Official Account's messages).
- `POST /cgi-bin/message/subscribe/send`: WeChat sends only templates the school chose in its
  mini-program console, so each notice event maps to a template id and its keywords to our values
  (AFTERCARE_WECHAT_TEMPLATES). Our rendered text stays the record of what was said.
- `GET /sns/jscode2session` turns a mini-program login code into the student's openid.

The student must have accepted the subscription (43101 otherwise): that and other refusals of
this message are PermanentDeliveryError; WeChat being busy or rate-limiting is retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from devstack import sandbox_wechat
from domain.money import format_yuan
from integrations.delivery import PermanentDeliveryError
from integrations.wechat_api import (
    DEFAULT_BASE_URL,
    RETRY_LATER,
    TOKEN_INVALID,
    WeChatApi,
    describe,
    errcode_of,
)
from settings import Settings

# Longest value WeChat accepts per keyword type (the part of the keyword before its number).
VALUE_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "amount": 32}


@dataclass(frozen=True)
class WeChatTemplate:
    template_id: str
    fields: dict[str, str]  # template keyword (thing1, amount2, date3...) → name in message_values
    page: str | None = None  # the mini-program page the message opens


@dataclass(frozen=True)
class WeChatMessage:
    openid: str
    event: str
    text: str  # our rendered copy, for the record and the dev outbox
    message_id: str
    values: dict[str, str] = field(default_factory=dict)


class WeChatSender(Protocol):
    async def send(self, message: WeChatMessage) -> str: ...


def message_values(context: dict[str, Any]) -> dict[str, str]:
    """What a template keyword may show: course, order, name, amount, fee, date (expected
    arrival, else the request date), reason (the decision's), status."""
    values = {
        "course": str(context.get("course_name", "")),
        "order": str(context.get("order_id", "")),
        "name": str(context.get("student_name", "")),
        "amount": format_yuan(int(context.get("refund_amount_fen", 0))),
        "fee": format_yuan(int(context.get("fee_fen", 0))),
        "date": str(context.get("expected_arrival") or str(context.get("requested_at", ""))[:10]),
        "reason": str(context.get("decision_reason") or ""),
        "status": str(context.get("status", "")),
    }
    return values


def _fit(keyword: str, value: str) -> str:
    kind = keyword.rstrip("0123456789")
    limit = VALUE_LIMITS.get(kind, 20)
    return value if len(value) <= limit else value[: limit - 1] + "…"


class WeChatSubscribeMessages:
    def __init__(
        self,
        app_id: str,
        app_secret: str,
        templates: dict[str, WeChatTemplate],
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.api = WeChatApi(app_id, app_secret, base_url, timeout_seconds)
        self.templates = templates

    @property
    def base_url(self) -> str:
        return self.api.base_url

    async def send(self, message: WeChatMessage) -> str:
        template = self.templates.get(message.event)
        if template is None:
            raise PermanentDeliveryError(f"no WeChat template is configured for {message.event}")
        payload: dict[str, Any] = {
            "touser": message.openid,
            "template_id": template.template_id,
            "data": {
                keyword: {"value": _fit(keyword, message.values.get(name, ""))}
                for keyword, name in template.fields.items()
            },
            "miniprogram_state": "formal",
            "lang": "zh_CN",
        }
        if template.page:
            payload["page"] = template.page
        answer = await self.api.call("/cgi-bin/message/subscribe/send", payload)
        code = errcode_of(answer)
        if code == 0:
            return f"WeChat msgid {answer.get('msgid')}"
        if code in RETRY_LATER or code in TOKEN_INVALID:
            raise ConnectionError(f"WeChat: {describe(answer)}")
        raise PermanentDeliveryError(f"WeChat refused: {describe(answer)}")

    async def openid_for(self, login_code: str) -> str:
        """The student's openid from a mini-program login code (wx.login)."""
        answer = await self.api.get(
            "/sns/jscode2session",
            appid=self.api.app_id,
            secret=self.api.app_secret,
            js_code=login_code,
            grant_type="authorization_code",
        )
        openid = answer.get("openid")
        if not isinstance(openid, str) or not openid:
            raise PermanentDeliveryError(f"WeChat refused the login code: {describe(answer)}")
        return openid


def build_wechat(settings: Settings) -> WeChatSubscribeMessages | None:
    """The school's WeChat app when configured; in dev mode, the sandbox's stand-in for WeChat
    (devstack/sandbox_wechat.py); otherwise none (a WeChat notice then fails on record)."""
    if settings.wechat_app_id:
        if settings.wechat_app_secret is None:
            raise ValueError("WeChat needs AFTERCARE_WECHAT_APP_SECRET too")
        return WeChatSubscribeMessages(
            settings.wechat_app_id,
            settings.wechat_app_secret.get_secret_value(),
            {event: WeChatTemplate(**spec) for event, spec in settings.wechat_templates.items()},
            base_url=settings.wechat_api_base_url,
        )
    if not settings.dev_mode:
        return None
    return WeChatSubscribeMessages(
        sandbox_wechat.DEV_APP_ID,
        sandbox_wechat.DEV_APP_SECRET,
        {event: WeChatTemplate(**spec) for event, spec in sandbox_wechat.DEV_TEMPLATES.items()},
        base_url=f"{settings.sandbox_base_url}/wechat",
    )
