"""The school's commerce system: told to revoke a course enrollment once its refund has been paid,
and asked to give a complaint's compensation (a coupon, or a course's progress started over).

Each is a POST under <hook_url> with a JSON body, signed as integrations.signed_post describes, and
an Idempotency-Key (the refund or compensation id), so the commerce system answers a repeat of the
same request with the same result instead of acting twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from integrations.delivery import PermanentDeliveryError
from integrations.signed_post import post_signed


@dataclass(frozen=True)
class CommerceHook:
    base_url: str
    secret: str
    timeout_seconds: float = 10.0

    async def _post(self, path: str, payload: dict[str, Any], key: str) -> httpx.Response:
        return await post_signed(
            f"{self.base_url.rstrip('/')}/{path}",
            self.secret,
            json.dumps(payload).encode(),
            extra_headers={"Idempotency-Key": key},
            timeout_seconds=self.timeout_seconds,
        )

    async def revoke_enrollment(
        self, *, refund_id: str, order_id: str, student_id: str, course_id: str
    ) -> str:
        payload = {
            "refund_id": refund_id,
            "order_id": order_id,
            "student_id": student_id,
            "course_id": course_id,
        }
        response = await self._post("enrollments/revoke", payload, refund_id)
        return response.text[:200]

    async def issue_coupon(
        self, *, compensation_id: str, student_id: str, amount_fen: int, reason: str
    ) -> str:
        """The coupon's code, as the student will see it in their account."""
        payload = {
            "compensation_id": compensation_id,
            "student_id": student_id,
            "amount_fen": amount_fen,
            "reason": reason,
        }
        return _field(await self._post("coupons/issue", payload, compensation_id), "coupon_code")

    async def reset_progress(
        self, *, compensation_id: str, student_id: str, order_id: str, reason: str
    ) -> str:
        """The commerce system's reference for the reset."""
        payload = {
            "compensation_id": compensation_id,
            "student_id": student_id,
            "order_id": order_id,
            "reason": reason,
        }
        return _field(await self._post("progress/reset", payload, compensation_id), "reset_id")


def _field(response: httpx.Response, name: str) -> str:
    try:
        value = response.json()[name]
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentDeliveryError(
            f"the commerce system answered without {name}: {response.text[:200]}"
        ) from exc
    return str(value)[:200]
