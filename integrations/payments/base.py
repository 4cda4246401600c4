from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.refunds import GatewayRefundOrder, GatewayRefundResult


class GatewayRejected(Exception):
    """The gateway refused the refund for good (bad trade number, amount over what was paid...)."""


class CallbackRejected(Exception):
    """A notification whose signature, timestamp or body does not verify: it changes nothing."""


class PaymentGateway(Protocol):
    async def request_refund(self, order: GatewayRefundOrder, notify_url: str) -> GatewayRefundResult:
        """Ask for the refund. order.refund_id is the idempotency key: asking twice refunds once."""
        ...

    async def query_refund(self, refund_id: str) -> GatewayRefundResult | None:
        """The gateway's current word on a refund, or None if it never heard of it."""
        ...

    def verify_callback(self, headers: dict[str, str], body: bytes) -> GatewayRefundResult:
        """Check an asynchronous notification and read it; raises CallbackRejected."""
        ...

    def callback_answer(self, accepted: bool, message: str) -> CallbackAnswer:
        """What this gateway expects back from a notify URL."""
        ...


@dataclass(frozen=True)
class CallbackAnswer:
    status_code: int
    media_type: str
    body: bytes
