from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.refunds import GatewayRefundOrder, GatewayRefundResult


class GatewayRejected(Exception):
    """The gateway refused the refund for good (bad trade number, amount over what was paid...)."""


class CallbackRefusal(StrEnum):
    """Why a gateway notification was refused, in a few fixed words (the label of a metric)."""

    UNSIGNED = "unsigned"  # no signature at all
    UNKNOWN_KEY = "unknown_key"  # signed with a key we were not given
    STALE = "stale"  # its timestamp is outside the allowed window: replayed, or a clock far off
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify: forged, or altered on the way
    UNDECRYPTABLE = "undecryptable"  # the resource does not decrypt under our key
    NOT_FOR_US = "not_for_us"  # another merchant's or app's notification
    MALFORMED = "malformed"  # not a refund notification we can read
    UNKNOWN_REFUND = "unknown_refund"  # verified and readable, but about no refund of ours


class CallbackRejected(Exception):
    """A notification whose signature, timestamp or body does not verify: it changes nothing."""

    def __init__(self, reason: CallbackRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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

    def notification_id(self, headers: dict[str, str], body: bytes) -> str:
        """What makes one delivery of a verified notification unique, as the gateway signed it: the
        same id again is the same signed bytes again (a replay, or a resend of one answered)."""
        ...


@dataclass(frozen=True)
class CallbackAnswer:
    status_code: int
    media_type: str
    body: bytes
