"""The school's commerce system, told to revoke a course enrollment once its refund has been paid.

POST <hook_url>/enrollments/revoke with a JSON body, signed as integrations.signed_post describes,
and Idempotency-Key = the refund id, so the commerce system can ignore a repeat of the same request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from integrations.signed_post import post_signed


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
        response = await post_signed(
            f"{self.base_url.rstrip('/')}/enrollments/revoke",
            self.secret,
            body,
            extra_headers={"Idempotency-Key": refund_id},
            timeout_seconds=self.timeout_seconds,
        )
        return response.text[:200]
