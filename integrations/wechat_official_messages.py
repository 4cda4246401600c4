"""Notices to a student through the school's WeChat Official Account (公众号): customer-service
messages (客服消息), `POST /cgi-bin/message/custom/send` with `{"touser": openid, "msgtype": "text",
"text": {"content": …}}`, carrying the account's access token (integrations/wechat_api.py).

It is the one channel a customer who only ever wrote to the account can read. WeChat lets the
account write to someone only within 48 hours of their last message to it, so a notice later than
that is refused (45015): that, an openid unknown to the account (40003) and too many messages since
they last wrote (45047) are final for that notice (PermanentDeliveryError), as is any other refusal;
WeChat being busy or rate-limiting is tried again.

WeChat takes no idempotency key here: when its answer is lost on the way, the retry may show the
message twice, which is better than not at all.

The message is plain text of at most 2048 bytes: the notice's subject as its first line, then its
text, cut (whole characters, an ellipsis) to TEXT_LIMIT_BYTES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from devstack import sandbox_wechat
from integrations.delivery import PermanentDeliveryError
from integrations.wechat_api import (
    DEFAULT_BASE_URL,
    RETRY_LATER,
    TOKEN_INVALID,
    WeChatApi,
    WeChatUnavailable,
    describe,
    errcode_of,
)
from settings import Settings

SEND_PATH = "/cgi-bin/message/custom/send"
# WeChat takes 2048 bytes; kept well below, so no other way of counting them can tip it over.
TEXT_LIMIT_BYTES = 1800
ELLIPSIS = "…"
# Refusals worth saying more about on the notification row (every refusal but busy is final).
WHY_REFUSED = {
    45015: "the student has not written to the account in the last 48 hours",
    40003: "the openid is not a user of this account",
    45047: "too many messages since the student last wrote",
}


@dataclass(frozen=True)
class OfficialAccountMessage:
    openid: str
    text: str
    message_id: str  # the notification's id, for the record


class OfficialAccountSender(Protocol):
    async def send(self, message: OfficialAccountMessage) -> str: ...


def message_text(subject: str, text: str) -> str:
    """A chat message has no subject line: the subject leads, then the notice's text."""
    return f"{subject}\n\n{text}" if subject else text


def fit(text: str, limit_bytes: int = TEXT_LIMIT_BYTES) -> str:
    """`text` if it fits in `limit_bytes` of UTF-8, else cut on a character boundary with an ellipsis."""
    encoded = text.encode()
    if len(encoded) <= limit_bytes:
        return text
    room = limit_bytes - len(ELLIPSIS.encode())
    return encoded[:room].decode(errors="ignore").rstrip() + ELLIPSIS  # a split character is dropped


class WeChatCustomerServiceMessages:
    def __init__(
        self, app_id: str, app_secret: str, base_url: str = DEFAULT_BASE_URL, timeout_seconds: float = 10.0
    ) -> None:
        self.api = WeChatApi(app_id, app_secret, base_url, timeout_seconds)

    @property
    def base_url(self) -> str:
        return self.api.base_url

    async def send(self, message: OfficialAccountMessage) -> str:
        content = fit(message.text)
        payload = {"touser": message.openid, "msgtype": "text", "text": {"content": content}}
        answer = await self.api.call(SEND_PATH, payload)
        code = errcode_of(answer)
        if code == 0:
            shortened = "" if content == message.text else f" (text cut to {TEXT_LIMIT_BYTES} bytes)"
            return f"WeChat Official Account: {describe(answer)}{shortened}"
        if code in RETRY_LATER or code in TOKEN_INVALID:  # a fresh token refused too: later
            raise WeChatUnavailable(f"WeChat Official Account: {describe(answer)}")
        why = f" ({WHY_REFUSED[code]})" if code in WHY_REFUSED else ""
        raise PermanentDeliveryError(f"WeChat Official Account refused: {describe(answer)}{why}")


def build_official_account_messages(settings: Settings) -> WeChatCustomerServiceMessages | None:
    """The school's Official Account when configured; in dev mode, the sandbox's stand-in for WeChat
    (devstack/sandbox_wechat.py); otherwise none (such a notice then fails on record)."""
    if settings.wechat_official_app_id:
        if settings.wechat_official_app_secret is None:
            raise ValueError("the Official Account needs AFTERCARE_WECHAT_OFFICIAL_APP_SECRET too")
        return WeChatCustomerServiceMessages(
            settings.wechat_official_app_id,
            settings.wechat_official_app_secret.get_secret_value(),
            base_url=settings.wechat_official_api_base_url,
        )
    if not settings.dev_mode:
        return None
    return WeChatCustomerServiceMessages(
        sandbox_wechat.DEV_OFFICIAL_APP_ID,
        sandbox_wechat.DEV_OFFICIAL_APP_SECRET,
        base_url=f"{settings.sandbox_base_url}/wechat",
    )
