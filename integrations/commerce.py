"""The school's commerce system, told to revoke a course enrollment once its refund has been paid.

POST <hook_url>/enrollments/revoke with a JSON body, signed like our other outbound calls:
X-Aftercare-Timestamp and X-Aftercare-Signature = hex HMAC-SHA256(secret, "timestamp\\nbody"), and
Idempotency-Key = the refund id, so the commerce system can ignore a repeat of the same request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import httpx

from integrations.delivery import PermanentDeliveryError


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CommerceHook:
    base_url: str
    secret: str
    timeout_seconds: float = 10.0

    async def revoke_enrollment(
        self, *, refund_id: str, order_id: str, student_id: str, course_id: str
    ) -> str:
        body = json.dumps(
            {"refund_id": refund_id, "order_id": order_id, "student_id": student_id, "course_id": course_id}
        ).encode()
        timestamp = str(int(time.time()))
        async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
            response = await client.post(
                f"{self.base_url.rstrip('/')}/enrollments/revoke",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": refund_id,
                    "X-Aftercare-Timestamp": timestamp,
                    "X-Aftercare-Signature": sign(self.secret, timestamp, body),
                },
            )
        if response.status_code in (400, 401, 403, 404, 422):
            raise PermanentDeliveryError(
                f"the commerce system refused: {response.status_code} {response.text[:200]}"
            )
        response.raise_for_status()  # 5xx: retried
        return response.text[:200]
