"""WeChat's server as far as subscribe messages go, for dev and tests (served by the sandbox gateway
under /wechat). It checks what WeChat checks — the app's credentials for a token, the token, the
openid, the template and its keywords — answers in WeChat's shapes, and records every message.

`POST /sandbox/wechat/faults {"errcode": 43101, "count": 1}` makes the next sends fail with that
code; `POST /sandbox/wechat/expire-tokens` invalidates every token (WeChat answers 40001 then).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

DEV_APP_ID = "wxd0000000000dev01"
DEV_APP_SECRET = "dev-wechat-app-secret-0123456789"
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
    )
}


class WeChatFault(BaseModel):
    errcode: int
    count: int = Field(default=1, ge=1)


def openid_for_code(code: str) -> str:
    """The sandbox's stand-in for WeChat's user mapping: one openid per login code."""
    return "o" + hashlib.sha256(code.encode()).hexdigest()[:27]


def sandbox_wechat_router(app_id: str = DEV_APP_ID, app_secret: str = DEV_APP_SECRET) -> APIRouter:
    router = APIRouter()
    tokens: set[str] = set()
    openids: set[str] = set()
    messages: list[dict[str, Any]] = []
    faults: list[int] = []
    templates = {spec["template_id"]: set(spec["fields"]) for spec in DEV_TEMPLATES.values()}

    @router.post("/wechat/cgi-bin/stable_token")
    async def stable_token(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if body.get("appid") != app_id or body.get("secret") != app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = secrets.token_urlsafe(24)
        tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

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
        if access_token not in tokens:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
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

    @router.post("/sandbox/wechat/faults")
    async def set_faults(fault: WeChatFault) -> dict[str, int]:
        faults.extend([fault.errcode] * fault.count)
        return {"pending": len(faults)}

    @router.post("/sandbox/wechat/expire-tokens")
    async def expire_tokens() -> dict[str, int]:
        expired = len(tokens)
        tokens.clear()
        return {"expired": expired}

    @router.get("/sandbox/wechat/messages")
    async def list_messages() -> list[dict[str, Any]]:
        return messages

    return router
