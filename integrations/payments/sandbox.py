"""Client for the sandbox gateway (devstack/sandbox_gateway.py), the dev default for every order.

Protocol: JSON over HTTP. Every request and callback carries X-Sandbox-Timestamp, X-Sandbox-Nonce and
X-Sandbox-Signature = hex HMAC-SHA256(secret, "timestamp\\nnonce\\nbody\\n") over the raw body, the
message layout WeChat Pay v3 signs (with RSA there). Refunds are keyed by out_refund_no, so asking
twice refunds once; the result arrives by an asynchronous callback to notify_url.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime

import httpx

from domain.refunds import GatewayOutcome, GatewayRefundOrder, GatewayRefundResult
from integrations.payments.base import CallbackRejected, GatewayRejected

TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
NONCE_HEADER = "X-Sandbox-Nonce"
SIGNATURE_HEADER = "X-Sandbox-Signature"
# A callback older or newer than this is refused, so a captured one cannot be replayed later.
MAX_CLOCK_SKEW_SECONDS = 300

_STATUS_TO_OUTCOME = {
    "PROCESSING": GatewayOutcome.PROCESSING,
    "SUCCESS": GatewayOutcome.SUCCESS,
    "ABNORMAL": GatewayOutcome.ABNORMAL,
    "CLOSED": GatewayOutcome.CLOSED,
}


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, body),
    }


def verify_signed(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> None:
    """Raise CallbackRejected unless the headers carry a fresh, valid signature of body."""
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    nonce = lowered.get(NONCE_HEADER.lower())
    given = lowered.get(SIGNATURE_HEADER.lower())
    if not (timestamp and nonce and given):
        raise CallbackRejected("missing signature headers")
    try:
        skew = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError as exc:
        raise CallbackRejected("timestamp is not a number") from exc
    if skew > MAX_CLOCK_SKEW_SECONDS:
        raise CallbackRejected("timestamp outside the allowed window")
    if not hmac.compare_digest(signature(secret, timestamp, nonce, body), given):
        raise CallbackRejected("signature does not match")


def result_from_record(record: dict, *, source: str) -> GatewayRefundResult:
    """Read the sandbox's refund record (as returned by its API and sent in callbacks)."""
    try:
        outcome = _STATUS_TO_OUTCOME[record["status"]]
        succeeded_at = record.get("success_time")
        return GatewayRefundResult(
            refund_id=record["out_refund_no"],
            gateway_refund_id=record["refund_id"],
            outcome=outcome,
            refund_fen=int(record["amount"]["refund"]),
            total_fen=int(record["amount"]["total"]),
            succeeded_at=datetime.fromisoformat(succeeded_at) if succeeded_at else None,
            source=source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CallbackRejected(f"malformed refund record: {exc}") from exc


class SandboxGateway:
    def __init__(self, base_url: str, secret: str, *, timeout_seconds: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout_seconds

    async def request_refund(self, order: GatewayRefundOrder, notify_url: str) -> GatewayRefundResult:
        body = json.dumps(
            {
                "out_refund_no": order.refund_id,
                "transaction_id": order.gateway_trade_no,
                "out_trade_no": order.order_id,
                "reason": order.reason[:80],
                "notify_url": notify_url,
                "amount": {"refund": order.refund_fen, "total": order.total_fen, "currency": "CNY"},
            },
            ensure_ascii=False,
        ).encode()
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(
                f"{self.base_url}/v3/refund/domestic/refunds",
                content=body,
                headers=signed_headers(self.secret, body),
            )
        if response.status_code in (400, 403, 404, 409):
            raise GatewayRejected(f"sandbox refused the refund: {response.status_code} {response.text}")
        response.raise_for_status()  # 5xx and the like: transient, the activity retries
        return result_from_record(response.json(), source="request")

    async def query_refund(self, refund_id: str) -> GatewayRefundResult | None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.get(
                f"{self.base_url}/v3/refund/domestic/refunds/{refund_id}",
                headers=signed_headers(self.secret, b""),
            )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return result_from_record(response.json(), source="query")

    def verify_callback(self, headers: dict[str, str], body: bytes) -> GatewayRefundResult:
        verify_signed(self.secret, headers, body)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise CallbackRejected("body is not JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("resource"), dict):
            raise CallbackRejected("no refund resource in the notification")
        return result_from_record(payload["resource"], source="callback")
