"""Asynchronous notifications from payment gateways. Only a verified notification reaches a
workflow; anything else is refused in the gateway's own terms and changes nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, TemporalDep
from api.rate_limits import Throttled
from api.request_body import body_at_most
from api.services.gateway_callbacks import keep_callback_evidence
from api.services.refunds import deliver_gateway_result
from domain.courses import Gateway
from integrations.payments.base import CallbackAnswer, CallbackRefusal, CallbackRejected

router = APIRouter(prefix="/api/payments", tags=["payments"])
# A notification is a few kilobytes; a body past this is no gateway's, and is not read further.
MAX_NOTIFICATION_BYTES = 64 * 1024
log = logging.getLogger(__name__)


class GatewayFailure(BaseModel):
    """WeChat Pay's terms for "not handled: send it again"."""

    code: str  # FAIL
    message: str


class GatewayRefusal(BaseModel):
    detail: str | GatewayFailure


# Each gateway is answered in its own terms: WeChat Pay by status code (JSON on a refusal), Alipay by
# the plain text `success` (anything else, and it sends the notification again).
ALIPAY_TEXT = {"text/plain": {"schema": {"type": "string"}}}
GATEWAY_ANSWERS: dict[int | str, dict] = {
    200: {"description": "Alipay: handled (`success`)", "content": ALIPAY_TEXT},
    204: {"description": "WeChat Pay: handled"},
    401: {
        "description": "unsigned, forged, stale or unreadable: changes nothing",
        "model": GatewayFailure,
        "content": ALIPAY_TEXT,
    },
    404: {
        "description": "the gateway is not connected here, or the notification names no refund of ours",
        "model": GatewayRefusal,
    },
    429: {
        "description": "too many calls, or too many refused ones, from this address",
        "model": GatewayFailure,
        "content": ALIPAY_TEXT,
    },
    503: {"description": "the refund's workflow could not be told; send it again", "model": GatewayRefusal},
}


def _respond(
    answer: CallbackAnswer, *, status_code: int | None = None, headers: dict | None = None
) -> Response:
    return Response(
        answer.body,
        status_code=status_code or answer.status_code,
        media_type=answer.media_type,
        headers=headers,
    )


@router.post("/{gateway}/notify", response_class=Response, responses=GATEWAY_ANSWERS)
async def gateway_notify(
    gateway: Gateway, request: Request, session: SessionDep, temporal: TemporalDep
) -> Response:
    client = request.app.state.gateways.get(gateway)
    if client is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{gateway.value} is not configured here")
    limits = request.app.state.rate_limits
    try:
        address = limits.webhook(request, f"payments:{gateway.value}")
        body = await body_at_most(request, MAX_NOTIFICATION_BYTES)
        # Nothing awaited inside: a burst of good notifications never holds the refusals' tokens.
        with limits.refusals_counted(address):
            if body is None:
                raise CallbackRejected(CallbackRefusal.MALFORMED, "larger than any notification")
            result = client.verify_callback(dict(request.headers), body)
    except Throttled as exc:
        # The gateway retries later, as after any answer but its success.
        return _respond(
            client.callback_answer(False, "too many requests"),
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers=exc.headers,
        )
    except CallbackRejected as exc:
        log.warning("refused a %s notification: %s", gateway.value, exc)
        request.app.state.metrics.callback_refused(gateway, exc.reason)
        return _respond(client.callback_answer(False, f"verification failed: {exc}"))
    answered = request.app.state.answered_callbacks
    notification_id = client.notification_id(dict(request.headers), body)
    if answered.seen(gateway, notification_id):
        return _respond(client.callback_answer(True, "OK"))  # answered before: nothing more to do
    kept = await run_in_threadpool(
        keep_callback_evidence,
        request.app.state.sessions,
        gateway=gateway,
        headers=dict(request.headers),
        body=body,
        result=result,
    )
    if not kept:  # deliver_gateway_result refuses it (404)
        request.app.state.metrics.callback_refused(gateway, CallbackRefusal.UNKNOWN_REFUND)
    await deliver_gateway_result(session=session, temporal=temporal, result=result)
    answered.remember(gateway, notification_id)
    return _respond(client.callback_answer(True, "OK"))
