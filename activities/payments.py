"""Asks payment gateways to refund and to report on refunds, and keeps every exchange with them
(secrets redacted) in the refund's audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.audit_log import record_event
from db.engine import SessionFactory
from db.models import AuditEvent
from domain.audit_trail import GATEWAY_EXCHANGE
from domain.courses import Gateway
from domain.refunds import GatewayQuery, GatewayRefundOrder, GatewayRefundResult
from domain.timeutil import utcnow
from integrations.payments.base import CallbackRejected, GatewayRejected, PaymentGateway
from integrations.payments.exchange_log import GatewayExchange, recording

T = TypeVar("T")


class PaymentActivities:
    def __init__(
        self, gateways: Mapping[Gateway, PaymentGateway], public_base_url: str, sessions: SessionFactory
    ) -> None:
        self.gateways = gateways
        self.public_base_url = public_base_url.rstrip("/")
        self.sessions = sessions

    def _gateway(self, gateway: Gateway) -> PaymentGateway:
        try:
            return self.gateways[gateway]
        except KeyError:
            # The API refuses requests for gateways it does not have, so this is a deployment
            # mistake: fail the refund visibly (finance follows up) rather than retry for ever.
            raise ApplicationError(
                f"gateway {gateway.value} is not configured on this worker",
                type="GatewayNotConfigured",
                non_retryable=True,
            ) from None

    @activity.defn(name="request_gateway_refund")
    async def request_gateway_refund(self, order: GatewayRefundOrder) -> GatewayRefundResult:
        """Idempotent: order.refund_id is sent as the gateway's refund number on every attempt."""
        notify_url = f"{self.public_base_url}/api/payments/{order.gateway.value}/notify"
        gateway = self._gateway(order.gateway)
        try:
            return await self._kept(order.refund_id, order.gateway, gateway.request_refund(order, notify_url))
        except GatewayRejected as exc:
            raise ApplicationError(str(exc), type="RefundRefusedByGateway", non_retryable=True) from exc

    @activity.defn(name="query_gateway_refund")
    async def query_gateway_refund(self, query: GatewayQuery) -> GatewayRefundResult | None:
        gateway = self._gateway(query.gateway)
        try:
            return await self._kept(query.refund_id, query.gateway, gateway.query_refund(query.refund_id))
        except CallbackRejected as exc:  # an unreadable answer: try again later
            raise ApplicationError(
                f"unreadable gateway answer: {exc}", type="GatewayAnswerUnreadable"
            ) from exc

    async def _kept(self, refund_id: str, gateway: Gateway, call: Awaitable[T]) -> T:
        """Run the gateway call, then put each HTTP exchange it made into the refund's audit trail,
        whether the call succeeded or not (a failed attempt is evidence too)."""
        with recording() as exchanges:
            try:
                return await call
            except Exception as exc:
                if exchanges and exchanges[-1].status is None:
                    exchanges[-1].error = f"{type(exc).__name__}: {exc}"[:500]
                raise
            finally:
                await asyncio.to_thread(self._keep_evidence, refund_id, gateway, exchanges)

    def _keep_evidence(self, refund_id: str, gateway: Gateway, exchanges: list[GatewayExchange]) -> None:
        info = activity.info()
        for number, exchange in enumerate(exchanges, start=1):
            outcome = exchange.status if exchange.status is not None else exchange.error
            record_event(
                self.sessions,
                AuditEvent(
                    # One event per exchange of each attempt: a retried attempt's exchanges are new evidence.
                    event_key=(
                        f"refund:{refund_id}:{info.workflow_run_id}:{info.activity_id}:{info.attempt}"
                        f":exchange:{number}"
                    ),
                    case_type="refund",
                    case_id=refund_id,
                    event=GATEWAY_EXCHANGE,
                    actor=gateway.value,
                    note=f"{exchange.method} {urlsplit(exchange.url).path} → {outcome}"[:2000],
                    detail={"activity": info.activity_type, "attempt": info.attempt, **exchange.evidence()},
                    at=utcnow(),
                ),
            )
