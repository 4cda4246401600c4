"""Stand-ins for the school's own systems that Aftercare talks to, served by the sandbox gateway in
dev and tests. Each checks what a real one would and records what it was told:

- the commerce system's enrollment hook (signed POST, Idempotency-Key = refund id), and its
  compensation calls: a coupon issued (its code), a course's progress reset (a reference), each
  given once per Idempotency-Key (= the compensation id) however often it is asked;
- a CRM subscribed to our outbound webhooks: it verifies the signature and the timestamp, ignores
  a repeated delivery of the same event, and tags the student "refunded" on `refund.refunded`;
- the team's chat room, as Apprise's json:// plugin posts to it;
- the page a dev video-room link opens (integrations/video_rooms.py).
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from integrations.signed_post import verify
from settings import DEV_COMMERCE_HOOK_SECRET

DEV_CRM_WEBHOOK_SECRET = "dev-crm-webhook-secret"
CRM_EVENTS_PATH = "/sandbox/crm/events"
STAFF_CHAT_PATH = "/sandbox/staff-chat"


def school_systems_router(
    *, commerce_secret: str = DEV_COMMERCE_HOOK_SECRET, crm_secret: str = DEV_CRM_WEBHOOK_SECRET
) -> APIRouter:
    router = APIRouter()
    revocations: dict[str, dict[str, Any]] = {}
    compensations: dict[str, dict[str, Any]] = {}
    crm_events: dict[str, dict[str, Any]] = {}
    crm_tags: dict[str, set[str]] = {}
    chat_messages: list[dict[str, Any]] = []

    async def verified_body(request: Request, secret: str) -> bytes:
        body = await request.body()
        headers = request.headers
        if not verify(
            secret, headers.get("x-aftercare-timestamp", ""), headers.get("x-aftercare-signature", ""), body
        ):
            raise HTTPException(401, "signature does not match or is too old")
        return body

    @router.post("/sandbox/commerce/enrollments/revoke")
    async def revoke_enrollment(request: Request) -> dict[str, Any]:
        body = await verified_body(request, commerce_secret)
        key = request.headers.get("idempotency-key", "")
        record = revocations.setdefault(key, {**json.loads(body), "requests": 0})
        record["requests"] += 1
        return {"revoked": True, "refund_id": key}

    @router.get("/sandbox/commerce/revocations")
    async def list_revocations() -> list[dict[str, Any]]:
        return list(revocations.values())

    async def compensate(request: Request, reference: str, prefix: str) -> dict[str, Any]:
        body = json.loads(await verified_body(request, commerce_secret))
        key = request.headers.get("idempotency-key", "")
        if not key or key != body.get("compensation_id"):
            raise HTTPException(422, "Idempotency-Key must be the compensation id")
        digest = hashlib.sha256(key.encode()).hexdigest()[:10].upper()
        record = compensations.setdefault(key, {**body, reference: f"{prefix}{digest}", "requests": 0})
        record["requests"] += 1
        return {reference: record[reference]}

    @router.post("/sandbox/commerce/coupons/issue")
    async def issue_coupon(request: Request) -> dict[str, Any]:
        return await compensate(request, "coupon_code", "CPN-")

    @router.post("/sandbox/commerce/progress/reset")
    async def reset_progress(request: Request) -> dict[str, Any]:
        return await compensate(request, "reset_id", "RST-")

    @router.get("/sandbox/commerce/compensations")
    async def list_compensations() -> list[dict[str, Any]]:
        return list(compensations.values())

    @router.get("/sandbox/video/{room_id}", response_class=HTMLResponse)
    async def video_room(room_id: str) -> str:
        """Where the default video-room links lead in dev: a real provider's room would open here."""
        room = html.escape(room_id)
        return (
            f"<!doctype html><meta charset='utf-8'><title>视频支持房间 {room}</title>"
            f"<h1>视频支持房间 / Video support room</h1><p><code>{room}</code></p>"
            "<p>Sandbox: with a real provider configured, the call opens here.</p>"
        )

    @router.post(CRM_EVENTS_PATH)
    async def receive_event(request: Request) -> dict[str, Any]:
        event = json.loads(await verified_body(request, crm_secret))
        seen = crm_events.get(event["id"])
        if seen is not None:  # a redelivery: acknowledged, not applied twice
            seen["deliveries"] += 1
            return {"duplicate": True}
        crm_events[event["id"]] = {**event, "deliveries": 1}
        if event["type"] == "refund.refunded":
            data = event["data"]
            crm_tags.setdefault(data["student_id"], set()).update(
                {"refunded", f"refunded:{data['course_type']}"}
            )
        return {"applied": True}

    @router.get(CRM_EVENTS_PATH)
    async def list_events() -> list[dict[str, Any]]:
        return list(crm_events.values())

    @router.get("/sandbox/crm/tags/{student_id}")
    async def student_tags(student_id: str) -> list[str]:
        return sorted(crm_tags.get(student_id, set()))

    @router.post(STAFF_CHAT_PATH)
    async def post_to_room(message: dict[str, Any]) -> dict[str, Any]:
        chat_messages.append(message)
        return {"ok": True}

    @router.get(STAFF_CHAT_PATH)
    async def read_room() -> list[dict[str, Any]]:
        return chat_messages

    return router
