"""How Aftercare signs what it POSTs to other systems (the commerce hook, webhook subscribers), and
how a receiver checks it.

    X-Aftercare-Timestamp: <unix seconds>
    X-Aftercare-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>\\n<raw body>")>

The timestamp is inside the signature, so a receiver that rejects old timestamps also rejects
replays. Answers 400/401/403/404/410/422 are permanent (retrying cannot help); anything else that
is not 2xx, and network errors, are worth retrying.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from domain.redaction import redacted_url
from domain.secret_compare import same_secret
from integrations.delivery import PermanentDeliveryError
from integrations.http_client import outbound_client
from integrations.log_hygiene import guard_library_logs

guard_library_logs()  # a configured hook or subscriber URL may carry a password

SIGNATURE_PREFIX = "sha256="
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410, 422})
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json",
        "X-Aftercare-Timestamp": timestamp,
        "X-Aftercare-Signature": signature(secret, timestamp, body),
    }


def is_recent(timestamp: str, *, now: float | None, tolerance_seconds: int) -> bool:
    """A signed call's Unix timestamp is within the tolerance of now (a replay later is refused)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds


def verify(
    secret: str,
    timestamp: str,
    given_signature: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when the signature matches and the timestamp is recent (receivers use this)."""
    return is_recent(timestamp, now=now, tolerance_seconds=tolerance_seconds) and same_secret(
        given_signature, signature(secret, timestamp, body)
    )


async def post_signed(
    url: str, secret: str, body: bytes, *, extra_headers: dict[str, str], timeout_seconds: float
) -> httpx.Response:
    """POST body signed; raise PermanentDeliveryError for a refusal, HTTPStatusError to retry."""
    async with outbound_client(timeout=timeout_seconds) as client:
        headers = {**signed_headers(secret, body), **extra_headers}
        response = await client.post(url, content=body, headers=headers)
    shown = redacted_url(url)  # a configured URL may carry a password or a token
    if response.status_code in PERMANENT_STATUSES:
        raise PermanentDeliveryError(
            f"{shown} refused: {response.status_code} {response.text[:200]}", status_code=response.status_code
        )
    if response.is_error:
        raise httpx.HTTPStatusError(
            f"{shown} answered {response.status_code}", request=response.request, response=response
        )
    return response
