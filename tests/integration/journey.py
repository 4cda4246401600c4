"""Steps of a refund's journey through the HTTP API, shared by the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.integration.conftest import Stack

DEMO_STUDENT_ID = "S1001"  # from the dev seed


async def login(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/token", data={"username": email, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, within_seconds: float = 30) -> Any:
    """Poll until probe() returns something truthy; the system works asynchronously by design."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def push_order(
    stack: Stack,
    order_id: str,
    amount_fen: int,
    course_type: str = "regular",
    *,
    course: dict[str, Any] | None = None,
    gateway: str = "wechatpay",
    trade_no: str | None = None,
    **extra: Any,
) -> None:
    """The commerce system pushes an order of the demo student."""
    integration = await login(stack.api, "integration@demo")
    response = await stack.api.put(
        f"/api/orders/{order_id}",
        headers=integration,
        json={
            "student_id": DEMO_STUDENT_ID,
            "course": course or {"id": f"C-{order_id}", "name": "机器学习系统正价课", "type": course_type},
            "amount_paid_fen": amount_fen,
            "paid_at": "2026-11-20T09:30:00+08:00",
            "gateway": gateway,
            "gateway_trade_no": trade_no or f"TRADE-{order_id}",
            **extra,
        },
    )
    assert response.status_code == 201, response.text


async def refund_status(stack: Stack, refund_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await stack.api.get(f"/api/refunds/{refund_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def mails_about(stack: Stack, order_id: str):
    return [mail for mail in stack.mailbox.messages() if order_id in mail.subject]


async def now(value: Any) -> Any:
    return value


async def status_is(stack: Stack, refund_id: str, headers: dict[str, str], status: str) -> bool:
    return (await refund_status(stack, refund_id, headers))["status"] == status


async def ask_until_awaiting_review(stack: Stack, order_id: str) -> tuple[str, dict[str, str]]:
    """The demo student asks for the order's refund; once it awaits review, its id and their headers."""
    student = await login(stack.api, "student@demo")
    requested = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": order_id, "reason": "时间冲突"}
    )
    assert requested.status_code == 202, requested.text
    refund_id = requested.json()["refund_id"]
    await eventually(lambda: status_is(stack, refund_id, student, "awaiting_review"), "awaiting review", 60)
    return refund_id, student


async def request_and_approve(
    stack: Stack, order_id: str, amount_fen: int = 199_900, *, gateway: str = "wechatpay"
) -> tuple[str, dict[str, str]]:
    """Push an order paid through `gateway`, have the demo student ask for its refund and a
    reviewer approve it."""
    trade_no = f"TRADE-{order_id}"
    if gateway == "alipay":  # Alipay knows what its trades were paid; WeChat Pay is told in the request
        registered = await stack.gateway.put(f"/sandbox/trades/{trade_no}", params={"total_fen": amount_fen})
        registered.raise_for_status()
    await push_order(stack, order_id, amount_fen, gateway=gateway, trade_no=trade_no)
    refund_id, student = await ask_until_awaiting_review(stack, order_id)
    reviewer = await login(stack.api, "reviewer@demo")
    approved = await stack.api.post(
        f"/api/refunds/{refund_id}/decision", headers=reviewer, json={"decision": "approve", "reason": "同意"}
    )
    assert approved.status_code == 200, approved.text
    return refund_id, student
