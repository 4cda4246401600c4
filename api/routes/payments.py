"""Asynchronous notifications from payment gateways. Only a verified notification reaches a
workflow; anything else is refused in the gateway's own terms and changes nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, TemporalDep
from api.services.gateway_callbacks import keep_callback_evidence
from api.services.refunds import deliver_gateway_result
from domain.courses import Gateway
from integrations.payments.base import CallbackAnswer, CallbackRefusal, CallbackRejected

router = APIRouter(prefix="/api/payments", tags=["payments"])
log = logging.getLogger(__name__)


def _respond(answer: CallbackAnswer) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)


@router.post("/{gateway}/notify")
async def gateway_notify(
    gateway: Gateway, request: Request, session: SessionDep, temporal: TemporalDep
) -> Response:
    client = request.app.state.gateways.get(gateway)
    if client is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{gateway.value} is not configured here")
    body = await request.body()
    try:
        result = client.verify_callback(dict(request.headers), body)
    except CallbackRejected as exc:
        log.warning("refused a %s notification: %s", gateway.value, exc)
        request.app.state.metrics.callback_refused(gateway, exc.reason)
        return _respond(client.callback_answer(False, f"verification failed: {exc}"))
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
    return _respond(client.callback_answer(True, "OK"))
