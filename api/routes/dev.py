"""Dev mode only: what the local stand-ins received — /dev/mail (the dev mailbox, HTML and JSON) and
/dev/sms (the dev SMS outbox, HTML and JSON; the page links the sandbox's WeChat messages too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from api.errors import refusals
from api.pages import render_page
from devstack.mailbox import read_mailbox
from integrations.dev_outbox import DevOutbox

router = APIRouter(prefix="/dev", tags=["dev"])


def _mails(request: Request):
    return read_mailbox(request.app.state.settings.mailbox_dir)


@router.get("/sms.json")
def sms_json(request: Request) -> list[dict[str, Any]]:
    return DevOutbox(request.app.state.settings.sms_outbox_file).messages()


@router.get("/sms", response_class=HTMLResponse)
def sms_list(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    return render_page(
        "dev_sms_list.html.j2",
        request=request,
        messages=list(reversed(DevOutbox(settings.sms_outbox_file).messages())),
        wechat_messages_url=f"{settings.sandbox_base_url}/sandbox/wechat/messages",
    )


@router.get("/mail.json")
def mail_json(request: Request) -> list[dict[str, Any]]:
    return [mail.as_json() for mail in _mails(request)]


@router.get("/mail", response_class=HTMLResponse)
def mail_list(request: Request) -> HTMLResponse:
    return render_page("dev_mail_list.html.j2", request=request, mails=_mails(request))


@router.get(
    "/mail/{key}",
    # Response, not HTMLResponse: the 404 is JSON, and FastAPI documents a route's declared responses
    # in its response class's media type.
    response_class=Response,
    responses={200: {"description": "the message", "content": {"text/html": {"schema": {"type": "string"}}}}}
    | refusals(404),
)
def mail_detail(key: str, request: Request) -> Response:
    for mail in _mails(request):
        if mail.key == key:
            return render_page("dev_mail_detail.html.j2", request=request, mail=mail)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {key}")
