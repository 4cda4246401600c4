"""The cases the Temporal UI screenshots show, made through the API as the demo accounts of the dev
seed would make them (make dev's, or the integration stack's): a refund awaiting review, and a
complaint filed under a one-minute first response so that its SLA is breached a minute later."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.complaints import SlaTerms

DEMO_STUDENT_ID = "S1001"  # student@demo
COMPLAINT_TEXT = "今晚的直播课一直卡顿，老师的声音断断续续"  # technical → tech support
BREACH_WAIT_SECONDS = 150  # the one-minute SLA, its timer and the record it writes


async def sign_in(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await api.post("/api/auth/token", data={"username": email, "password": "demo"})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _ok(answer: Awaitable[httpx.Response]) -> Any:
    response = await answer
    if response.is_error:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json()


async def _until(probe: Callable[[], Awaitable[bool]], what: str, within_seconds: float) -> None:
    deadline = time.monotonic() + within_seconds
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within_seconds:.0f}s waiting for {what}")
        await asyncio.sleep(1)


@asynccontextmanager
async def first_response_within_a_minute(
    api: httpx.AsyncClient, admin: dict[str, str], category: str
) -> AsyncIterator[None]:
    """An admin gives one category a one-minute first response (by the clock, not working hours)
    for the complaints filed inside the block, then puts its terms back as they were."""
    table = await _ok(api.get("/api/complaints/sla", headers=admin))
    in_force = next(row for row in table if row["category"] == category)
    before = {name: in_force[name] for name in SlaTerms.model_fields}
    tight = {**before, "first_response_minutes": 1, "business_hours_only": False}
    await _ok(api.put(f"/api/complaints/sla/{category}", headers=admin, json=tight))
    try:
        yield
    finally:
        await _ok(api.put(f"/api/complaints/sla/{category}", headers=admin, json=before))


async def file_complaint(api: httpx.AsyncClient, student: dict[str, str], text: str) -> str:
    filed = await _ok(api.post("/api/complaints", headers=student, json={"text": text}))
    return filed["complaint_id"]


async def complaint_about_to_breach(api: httpx.AsyncClient) -> str:
    admin, student = await sign_in(api, "admin@demo"), await sign_in(api, "student@demo")
    async with first_response_within_a_minute(api, admin, "technical"):
        return await file_complaint(api, student, COMPLAINT_TEXT)


async def refund_awaiting_review(api: httpx.AsyncClient) -> str:
    """A fresh order each run (each order is refunded once), pushed as the commerce system does."""
    integration, student = await sign_in(api, "integration@demo"), await sign_in(api, "student@demo")
    stamp = datetime.now(UTC).strftime("%y%m%d%H%M%S")
    order_id = f"O-UI-{stamp}"
    order = {
        "student_id": DEMO_STUDENT_ID,
        "course": {"id": "C-REG-ML", "name": "机器学习系统正价课", "type": "regular"},
        "amount_paid_fen": 199_900,
        "paid_at": datetime.now(UTC).isoformat(),
        "gateway": "wechatpay",
        "gateway_trade_no": f"4200{stamp}",
    }
    await _ok(api.put(f"/api/orders/{order_id}", headers=integration, json=order))
    asked = {"order_id": order_id, "reason": "工作调动，没有时间上课了", "reason_code": "schedule_conflict"}
    refund_id = (await _ok(api.post("/api/refunds", headers=student, json=asked)))["refund_id"]

    async def awaiting_review() -> bool:
        refund = await _ok(api.get(f"/api/refunds/{refund_id}", headers=student))
        return refund["status"] == "awaiting_review"

    await _until(awaiting_review, f"refund {refund_id} to await review", 60)
    return refund_id


async def sla_breached(api: httpx.AsyncClient, complaint_id: str) -> None:
    agent = await sign_in(api, "agent@demo")

    async def breached() -> bool:
        return (await _ok(api.get(f"/api/complaints/{complaint_id}", headers=agent)))["sla_breached"]

    await _until(breached, f"complaint {complaint_id}'s SLA to be breached", BREACH_WAIT_SECONDS)
