"""Asynchronous notifications from payment gateways. Only a verified notification reaches a
workflow; anything else is answered 401 and changes nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse

from api.deps import SessionDep, TemporalDep
from api.services.refunds import deliver_gateway_result
from domain.courses import Gateway
from integrations.payments.base import CallbackRejected

router = APIRouter(prefix="/api/payments", tags=["payments"])
log = logging.getLogger(__name__)


@router.post("/{gateway}/notify")
async def gateway_notify(
    gateway: Gateway, request: Request, session: SessionDep, temporal: TemporalDep
) -> JSONResponse:
    verifier = request.app.state.gateways.get(gateway)
    if verifier is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, {"code": "FAIL", "message": f"{gateway.value} is not configured"}
        )
    body = await request.body()
    try:
        result = verifier.verify_callback(dict(request.headers), body)
    except CallbackRejected as exc:
        log.warning("rejected %s notification: %s", gateway.value, exc)
        return JSONResponse({"code": "FAIL", "message": f"verification failed: {exc}"}, status_code=401)
    await deliver_gateway_result(session=session, temporal=temporal, result=result)
    return JSONResponse({"code": "SUCCESS", "message": "OK"})
