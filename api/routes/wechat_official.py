"""The school's WeChat Official Account server (its URL is what the account's 服务器配置 names):
students write to the account, and each text message opens a complaint — or is added to the one
they opened by WeChat and is still open — and is answered at once with the complaint's number and
when to expect the first response. Protocol: integrations/wechat_official.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import field_error, refusals
from api.request_body import body_or_413
from api.services.customers import resolve_customer
from api.services.intake import Taken, open_complaint_of, take_message
from domain.complaints import IntakeChannel
from domain.customers import CustomerRef
from domain.intake_text import readable
from integrations import wechat_official
from settings import Settings

router = APIRouter(prefix="/api/intake/wechat", tags=["intake"])

Signature = Annotated[str, Query(max_length=64)]
Timestamp = Annotated[str, Query(max_length=20)]
Nonce = Annotated[str, Query(max_length=64)]

PLAIN_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# What WeChat's server may be told besides its answer: each refusal changes nothing.
WECHAT_REFUSALS = refusals(
    403,
    429,
    503,
    meanings={
        403: "not signed with the account's Token, or signed too long ago",
        503: "AFTERCARE_WECHAT_OFFICIAL_TOKEN is not configured, or the workflow service did not answer",
    },
)

ONLY_TEXT = "您好，这里目前只能接收文字消息。请用文字描述您遇到的问题，我们收到后会马上告诉您反馈编号。"


def _signed_by_wechat(
    request: Request, settings: Settings, signature: str, timestamp: str, nonce: str
) -> None:
    """Refuses (403) a call WeChat did not sign, and (429) an address past the webhook limits."""
    token = settings.wechat_official_token_in_force
    if token is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "AFTERCARE_WECHAT_OFFICIAL_TOKEN is not configured"
        )
    limits = request.app.state.rate_limits
    address = limits.webhook(request, "wechat_official")
    with limits.refusals_counted(address):
        if not wechat_official.verify(token, signature, timestamp, nonce):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "signature does not match or is too old")


@router.get(
    "",
    # Response, not PlainTextResponse: the refusals are JSON, and FastAPI documents a route's declared
    # responses in its response class's media type.
    response_class=Response,
    responses={200: {"description": "`echostr`, echoed", "content": PLAIN_TEXT}} | WECHAT_REFUSALS,
)
def confirm_server(
    signature: Signature, timestamp: Timestamp, nonce: Nonce, echostr: Annotated[str, Query(max_length=256)],
    request: Request, settings: SettingsDep,
) -> PlainTextResponse:  # fmt: skip
    """WeChat's check when the server URL is saved: echo `echostr` if the call is signed with our token."""
    _signed_by_wechat(request, settings, signature, timestamp, nonce)
    return PlainTextResponse(echostr)


def _span(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} 天"
    if minutes % 60 == 0:
        return f"{minutes // 60} 小时"
    return f"{minutes} 分钟"


def acknowledgement(taken: Taken) -> str:
    if taken.outcome == "message":
        return f"已补充到您的反馈（编号 {taken.complaint_id}），负责的老师会一并查看，请留意回复。"
    return (
        f"您的反馈已收到，编号 {taken.complaint_id}。我们会在 {_span(taken.first_response_minutes)}内"
        "给您第一次回复；如需补充，直接在这里继续留言即可。"
    )


@router.post(
    "",
    response_class=Response,
    responses={
        200: {
            "description": "a passive text reply (XML), or `success` for an event",
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    }
    | WECHAT_REFUSALS
    | refusals(413),
)
async def receive_message(
    request: Request,
    signature: Signature,
    timestamp: Timestamp,
    nonce: Nonce,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    encrypt_type: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """One message pushed by WeChat. Answered with a passive text reply (XML), or "success" for
    events; a MsgId seen before changes nothing and is answered as the first time."""
    _signed_by_wechat(request, settings, signature, timestamp, nonce)
    if encrypt_type not in (None, "raw"):
        raise field_error("encrypt_type", "only plaintext mode is spoken here", where="query")
    body = await body_or_413(request, wechat_official.MAX_BODY_BYTES, "message")
    try:
        message = wechat_official.parse_message(body)
    except wechat_official.InvalidMessage as exc:
        raise field_error("xml", str(exc)) from exc
    if message.msg_type == "event":  # subscribe, menu clicks…: nothing to take
        return PlainTextResponse("success")

    def reply(content: str) -> Response:
        return Response(wechat_official.text_reply(message, content), media_type="application/xml")

    text = readable(message.content or "")
    if message.msg_type != "text" or not text:
        return reply(ONLY_TEXT)
    assert message.msg_id is not None  # parse_message requires it of text messages
    try:
        ref = CustomerRef(wechat_openid=message.from_user)
    except ValidationError as exc:
        raise field_error("FromUserName", "not an openid") from exc
    # An openid only ever matches students (api/services/customers.py), so no staff refusal here.
    customer, _created = await run_in_threadpool(resolve_customer, session, ref)
    complaint = await run_in_threadpool(
        lambda: open_complaint_of(session, customer, channel=IntakeChannel.WECHAT)
    )
    taken = await take_message(
        session=session,
        temporal=temporal,
        settings=settings,
        channel=IntakeChannel.WECHAT,
        delivery_id=message.msg_id,
        customer=customer,
        filer=customer,
        text=text,
        follow_up_of=complaint,
    )
    return reply(acknowledgement(taken))
