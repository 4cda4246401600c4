"""Asks payment gateways to refund and to report on refunds."""

from __future__ import annotations

from collections.abc import Mapping

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.courses import Gateway
from domain.refunds import GatewayQuery, GatewayRefundOrder, GatewayRefundResult
from integrations.payments.base import CallbackRejected, GatewayRejected, PaymentGateway


class PaymentActivities:
    def __init__(self, gateways: Mapping[Gateway, PaymentGateway], public_base_url: str) -> None:
        self.gateways = gateways
        self.public_base_url = public_base_url.rstrip("/")

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
        try:
            return await self._gateway(order.gateway).request_refund(order, notify_url)
        except GatewayRejected as exc:
            raise ApplicationError(str(exc), type="RefundRefusedByGateway", non_retryable=True) from exc

    @activity.defn(name="query_gateway_refund")
    async def query_gateway_refund(self, query: GatewayQuery) -> GatewayRefundResult | None:
        try:
            return await self._gateway(query.gateway).query_refund(query.refund_id)
        except CallbackRejected as exc:  # an unreadable answer: try again later
            raise ApplicationError(
                f"unreadable gateway answer: {exc}", type="GatewayAnswerUnreadable"
            ) from exc
