"""WeChat's server as far as our two WeChat apps go, for dev and tests (served by the sandbox gateway
under /wechat): the mini-program's subscribe messages and the Official Account's customer-service
messages. It checks what WeChat checks — each app's credentials for its token, that a call carries
a current token of the right app, the openid, the message's shape — answers in WeChat's shapes, and
records every message.

Tokens are "stable" tokens, as WeChat's `/cgi-bin/stable_token` gives them: the same token while it
is valid, a new one only after it expired (or on force_refresh).

- `POST /sandbox/wechat/faults {"errcode": 43101, "count": 1}` makes the next subscribe messages
  fail with that code; `POST /sandbox/wechat/expire-tokens` invalidates every token of both apps
  (WeChat answers 40001 then). `GET /sandbox/wechat/token-requests` counts token requests per app.
- `POST /sandbox/wechat-oa/faults {"errcode": -1, "count": 1, "openid": …}` does the same for the
  Official Account's messages (to that openid only, if one is named). WeChat lets an account write
  to a user only within 48 hours of the user's last message; this stand-in never sees those
  messages, so every openid counts as having written lately until
  `PUT /sandbox/wechat-oa/windows/{openid} {"open": false}` closes its window (45015 from then on).
  `GET /sandbox/wechat-oa/messages` lists what was sent.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

DEV_APP_ID = "wxd0000000000dev01"
DEV_APP_SECRET = "dev-wechat-app-secret-0123456789"
# The school's Official Account (公众号) in dev: its own app, with its own credentials and tokens.
DEV_OFFICIAL_APP_ID = "wxd0000000000devoa"
DEV_OFFICIAL_APP_SECRET = "dev-wechat-official-secret-0123456"
# The dev app's subscribe-message templates: event → template id and its keywords.
_KEYWORDS = {"thing1": "course", "character_string2": "order", "amount3": "amount", "thing4": "status"}
DEV_TEMPLATES: dict[str, dict[str, Any]] = {
    event: {"template_id": f"dev-tmpl-{event}", "fields": dict(_KEYWORDS), "page": "pages/refund/detail"}
    for event in (
        "refund_received",
        "refund_approved",
        "refund_rejected",
        "refund_succeeded",
        "refund_delayed",
        "refund_manager_call",
        "refund_review_late",
    )
}
# The openids WeChat gives are 28 characters of letters, digits, - and _.
OFFICIAL_OPENID = re.compile(r"^[A-Za-z0-9_\-]{28}$")
TEXT_LIMIT_BYTES = 2048  # what WeChat takes in a customer-service text message


class WeChatFault(BaseModel):
    errcode: int
    count: int = Field(default=1, ge=1)
    openid: str | None = None  # Official Account faults only: just the messages to this user


class ReplyWindow(BaseModel):
    open: bool


def openid_for_code(code: str) -> str:
    """The sandbox's stand-in for WeChat's user mapping: one openid per login code."""
    return "o" + hashlib.sha256(code.encode()).hexdigest()[:27]


@dataclass
class _App:
    secret: str
    token: str | None = None
    token_requests: int = 0


def _invalid_token() -> dict[str, Any]:
    return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}


def sandbox_wechat_router(
    app_id: str = DEV_APP_ID,
    app_secret: str = DEV_APP_SECRET,
    official_app_id: str = DEV_OFFICIAL_APP_ID,
    official_app_secret: str = DEV_OFFICIAL_APP_SECRET,
) -> APIRouter:
    router = APIRouter()
    apps = {app_id: _App(app_secret), official_app_id: _App(official_app_secret)}
    openids: set[str] = set()
    messages: list[dict[str, Any]] = []
    faults: list[int] = []
    templates = {spec["template_id"]: set(spec["fields"]) for spec in DEV_TEMPLATES.values()}
    official_messages: list[dict[str, Any]] = []
    official_faults: list[WeChatFault] = []
    closed_windows: set[str] = set()

    def token_of(app: str, token: str) -> bool:
        return apps[app].token is not None and apps[app].token == token

    @router.post("/wechat/cgi-bin/stable_token")
    async def stable_token(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        app = apps.get(str(body.get("appid")))
        if app is None or body.get("secret") != app.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        app.token_requests += 1
        if app.token is None or body.get("force_refresh") is True:
            app.token = secrets.token_urlsafe(24)
        return {"access_token": app.token, "expires_in": 7200}

    @router.get("/wechat/sns/jscode2session")
    async def jscode2session(appid: str, secret: str, js_code: str, grant_type: str) -> dict[str, Any]:
        if appid != app_id or secret != app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if grant_type != "authorization_code" or not js_code:
            return {"errcode": 40029, "errmsg": "invalid code"}
        openid = openid_for_code(js_code)
        openids.add(openid)
        return {"openid": openid, "session_key": secrets.token_urlsafe(16)}

    @router.post("/wechat/cgi-bin/message/subscribe/send")
    async def subscribe_send(access_token: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        if not token_of(app_id, access_token):
            return _invalid_token()
        if faults:
            code = faults.pop(0)
            return {"errcode": code, "errmsg": f"sandbox fault {code}"}
        if body.get("touser") not in openids:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        keywords = templates.get(body.get("template_id", ""))
        if keywords is None:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        data = body.get("data", {})
        if set(data) != keywords or any(len(str(v.get("value", ""))) > 32 for v in data.values()):
            return {"errcode": 47003, "errmsg": "argument invalid! data.thing1.value invalid"}
        messages.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": 2_000_000_000 + len(messages)}

    @router.post("/wechat/cgi-bin/message/custom/send")
    async def custom_send(access_token: str, request: Request) -> dict[str, Any]:
        """The Official Account's customer-service message (客服消息), text only here."""
        body = await request.json()
        if not token_of(official_app_id, access_token):
            return _invalid_token()
        openid = body.get("touser")
        if not isinstance(openid, str) or not OFFICIAL_OPENID.match(openid):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        for fault in official_faults:
            if fault.openid in (None, openid):
                fault.count -= 1
                if fault.count == 0:
                    official_faults.remove(fault)
                return {"errcode": fault.errcode, "errmsg": f"sandbox fault {fault.errcode}"}
        if openid in closed_windows:
            return {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
        if body.get("msgtype") != "text":
            return {"errcode": 40008, "errmsg": "invalid message type"}
        content = (body.get("text") or {}).get("content")
        if not isinstance(content, str) or not content.strip():
            return {"errcode": 44004, "errmsg": "empty content"}
        if len(content.encode()) > TEXT_LIMIT_BYTES:
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        official_messages.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    @router.post("/sandbox/wechat/faults")
    async def set_faults(fault: WeChatFault) -> dict[str, int]:
        faults.extend([fault.errcode] * fault.count)
        return {"pending": len(faults)}

    @router.post("/sandbox/wechat/expire-tokens")
    async def expire_tokens() -> dict[str, int]:
        expired = sum(app.token is not None for app in apps.values())
        for app in apps.values():
            app.token = None
        return {"expired": expired}

    @router.get("/sandbox/wechat/token-requests")
    async def token_requests() -> dict[str, int]:
        return {name: app.token_requests for name, app in apps.items()}

    @router.get("/sandbox/wechat/messages")
    async def list_messages() -> list[dict[str, Any]]:
        return messages

    @router.post("/sandbox/wechat-oa/faults")
    async def set_official_faults(fault: WeChatFault) -> dict[str, int]:
        official_faults.append(fault)
        return {"pending": sum(f.count for f in official_faults)}

    @router.put("/sandbox/wechat-oa/windows/{openid}")
    async def set_reply_window(openid: str, window: ReplyWindow) -> dict[str, Any]:
        if window.open:
            closed_windows.discard(openid)
        else:
            closed_windows.add(openid)
        return {"openid": openid, "open": window.open}

    @router.get("/sandbox/wechat-oa/messages")
    async def list_official_messages() -> list[dict[str, Any]]:
        return official_messages

    return router
