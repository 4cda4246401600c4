"""Money moves exactly once, whatever the gateway or the worker does: a worker killed between the
refund call and the callback, duplicate / early / replayed notifications, a lost reply, errors
(500, 503) and hangs past the client's timeout before the gateway answers, no notification at all,
and a refund the bank bounces.

The worker runs here as its own process (`worker.py`), so it can be killed for real. SQLite only:
these faults are the gateway's and the worker's; the database's part runs on both elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from db.migrate import upgrade
from db.models import AuditEvent
from devstack.processes import WorkerProcess
from domain.audit_trail import GATEWAY_EXCHANGE
from integrations.payments.wechatpay import WechatPayConfig
from tests.integration.conftest import Stack, running_stack
from tests.integration.journey import eventually, login, refund_status, request_and_approve, status_is
from tests.integration.worker_process import worker_for_stack
from workflows.messenger import NOTICE_TIMEOUT

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    data_dir = tmp_path_factory.mktemp("faults")
    url = f"sqlite:///{data_dir / 'aftercare.db'}"
    upgrade(url)
    async with running_stack(temporal_env, url, data_dir, worker_in_process=False) as running:
        yield running


@pytest.fixture(scope="module")
def worker(stack: Stack, temporal_env: WorkflowEnvironment) -> Iterator[WorkerProcess]:
    process = worker_for_stack(stack, temporal_env)
    process.start()
    yield process
    process.stop()


async def fault(stack: Stack, mode: str, **extra: Any) -> None:
    (await stack.gateway.post("/sandbox/faults", json={"mode": mode, "count": 1, **extra})).raise_for_status()


async def gateway_record(stack: Stack, refund_id: str) -> dict[str, Any] | None:
    ledger = (await stack.gateway.get("/sandbox/refunds")).json()
    records = [r for r in ledger["refunds"] if r["out_refund_no"] == refund_id]
    assert len(records) <= 1, "the gateway holds two refunds under one number"
    return {**records[0], "requests_seen": ledger["requests_seen"][refund_id]} if records else None


def steps(stack: Stack, refund_id: str) -> list[AuditEvent]:
    with stack.sessions() as session:
        return list(
            session.exec(select(AuditEvent).where(AuditEvent.case_id == refund_id).order_by(AuditEvent.id))
        )


async def inbox_events(stack: Stack, student: dict[str, str], refund_id: str) -> list[str]:
    inbox = (await stack.api.get("/api/me/inbox", headers=student, params={"limit": 200})).json()
    return sorted(m["event"] for m in inbox["messages"] if m["case_id"] == refund_id)


async def test_a_worker_killed_between_the_refund_call_and_the_callback_refunds_once(
    stack: Stack, worker: WorkerProcess
) -> None:
    await fault(stack, "delay", delay_seconds=6)
    refund_id, student = await request_and_approve(stack, "O-FAULT-KILL")
    await eventually(lambda: gateway_record(stack, refund_id), "the refund call to reach the gateway")
    worker.kill()
    # The callback arrives while no worker runs: the API hands it to Temporal, which keeps it.
    await eventually(
        lambda: _acknowledged(stack, refund_id), "the gateway's notification to be acknowledged", 30
    )
    assert (await refund_status(stack, refund_id, student))["status"] != "refunded"
    worker.start()
    await eventually(
        lambda: status_is(stack, refund_id, student, "refunded"), "the refund after the restart", 90
    )
    record = await gateway_record(stack, refund_id)
    assert record is not None and record["status"] == "SUCCESS"  # one refund at the gateway
    assert [s.event for s in steps(stack, refund_id)].count("gateway.succeeded") == 1
    # The approval's notice may have been in the killed worker's hands: Temporal gives it to the new
    # worker only when its start-to-close timeout has run out (failed once in CI at 30 s).
    await eventually(
        lambda: _inbox_is(stack, student, refund_id, TOLD_ONCE),
        "one notice of each step",
        NOTICE_TIMEOUT.total_seconds() + 30,
    )


async def _acknowledged(stack: Stack, refund_id: str) -> bool:
    record = await gateway_record(stack, refund_id)
    return bool(record and record.get("notifications_acknowledged"))


@pytest.mark.parametrize("mode", ["duplicate", "out_of_order"])
async def test_duplicate_and_early_notifications_change_nothing(
    stack: Stack, worker: WorkerProcess, mode: str
) -> None:
    await fault(stack, mode)
    refund_id, student = await request_and_approve(stack, f"O-FAULT-{mode.upper()}")
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), f"the refund ({mode})")
    if mode == "duplicate":
        await eventually(lambda: _acknowledged_twice(stack, refund_id), "both notifications to be answered")
    assert [s.event for s in steps(stack, refund_id)].count("gateway.succeeded") == 1
    await eventually(lambda: _inbox_is(stack, student, refund_id, TOLD_ONCE), "one notice of each step")


async def _acknowledged_twice(stack: Stack, refund_id: str) -> bool:
    record = await gateway_record(stack, refund_id)
    return bool(record and record.get("notifications_acknowledged", 0) >= 2)


async def test_a_replayed_notification_is_acknowledged_and_changes_nothing(
    stack: Stack, worker: WorkerProcess
) -> None:
    refund_id, student = await request_and_approve(stack, "O-FAULT-REPLAY")
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the refund")
    record = await eventually(lambda: _with_notification(stack, refund_id), "the notification")
    # Everything the refund does beside the main path (revoking the enrollment, notices) is done.
    await stack.client.get_workflow_handle(f"refund-{refund_id}").result()
    before = [s.event for s in steps(stack, refund_id)]
    sent = record["last_notification"]
    replayed = await stack.api.post(
        "/api/payments/wechatpay/notify", content=sent["body"].encode(), headers=sent["headers"]
    )
    assert replayed.status_code == 204
    assert [s.event for s in steps(stack, refund_id)] == before


async def _with_notification(stack: Stack, refund_id: str) -> dict[str, Any] | None:
    record = await gateway_record(stack, refund_id)
    return record if record and record.get("notifications_acknowledged") else None


async def test_a_lost_reply_is_asked_again_and_refunds_once(stack: Stack, worker: WorkerProcess) -> None:
    await fault(stack, "lose_response")
    refund_id, student = await request_and_approve(stack, "O-FAULT-LOST")
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the refund after the retry")
    await _paid_once_after(stack, refund_id, "O-FAULT-LOST", attempts=2)  # asked again, refunded once


# Both answers, both gateways: each case waits out three retries (2, 4, 8 s apart).
@pytest.mark.parametrize(("gateway", "status_code"), [("wechatpay", 500), ("alipay", 503)])
async def test_a_gateway_answering_errors_is_asked_again_until_it_refunds_once(
    stack: Stack, worker: WorkerProcess, gateway: str, status_code: int
) -> None:
    await fault(stack, "fail", count=3, status_code=status_code)
    order_id = f"O-FAULT-{gateway.upper()}-{status_code}"
    refund_id, student = await request_and_approve(stack, order_id, gateway=gateway)
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the refund after the errors")
    await _paid_once_after(stack, refund_id, order_id, attempts=4)
    await eventually(lambda: _inbox_is(stack, student, refund_id, TOLD_ONCE), "one notice of each step")


@pytest.mark.resilience  # half a minute of waiting for timeouts
async def test_a_gateway_hanging_past_the_clients_timeout_is_asked_again_and_refunds_once(
    stack: Stack, worker: WorkerProcess
) -> None:
    # Longer than the client waits (WechatPayConfig.timeout_seconds): each of the two hung requests
    # is given up on, and goes on to refund at the gateway all the same.
    await fault(stack, "slow", count=2, delay_seconds=WechatPayConfig.timeout_seconds + 2)
    refund_id, student = await request_and_approve(stack, "O-FAULT-HANG")
    await eventually(
        lambda: status_is(stack, refund_id, student, "refunded"), "the refund after the hangs", 90
    )
    await _paid_once_after(stack, refund_id, "O-FAULT-HANG", attempts=3)
    await eventually(lambda: _inbox_is(stack, student, refund_id, TOLD_ONCE), "one notice of each step")


async def _paid_once_after(stack: Stack, refund_id: str, order_id: str, *, attempts: int) -> None:
    """Asked `attempts` times or more under one number, paid once: one record for the trade, one
    `gateway.succeeded` step, and each failed attempt kept as evidence in the refund's trail."""
    record = await gateway_record(stack, refund_id)
    assert record is not None and record["status"] == "SUCCESS"
    assert record["requests_seen"] >= attempts
    ledger = (await stack.gateway.get("/sandbox/refunds")).json()
    paid = [r["out_refund_no"] for r in ledger["refunds"] if r["trade"] == f"TRADE-{order_id}"]
    assert paid == [refund_id], f"the trade was refunded under {paid}"
    trail = steps(stack, refund_id)
    assert [s.event for s in trail].count("gateway.succeeded") == 1
    refund_calls = [
        s for s in trail if s.event == GATEWAY_EXCHANGE and s.detail["activity"] == "request_gateway_refund"
    ]
    assert len(refund_calls) >= attempts, [s.note for s in refund_calls]


async def test_without_any_notification_the_query_api_finishes_the_refund(
    stack: Stack, worker: WorkerProcess
) -> None:
    await fault(stack, "never")
    refund_id, student = await request_and_approve(stack, "O-FAULT-SILENT")
    # The workflow waits a minute for the callback, then asks the gateway.
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the query path", 100)
    [succeeded] = [s for s in steps(stack, refund_id) if s.event == "gateway.succeeded"]
    assert succeeded.detail == {"source": "query"}
    record = await gateway_record(stack, refund_id)
    assert record is not None and not record.get("notifications_acknowledged")


async def test_a_refund_the_bank_bounces_goes_to_finance_who_pays_it_another_way(
    stack: Stack, worker: WorkerProcess
) -> None:
    await fault(stack, "abnormal")
    refund_id, student = await request_and_approve(stack, "O-FAULT-ABNORMAL")
    finance = await login(stack.api, "finance@demo")

    async def open_task() -> dict[str, Any] | None:
        tasks = (await stack.api.get("/api/finance/tasks", headers=finance)).json()
        return next((task for task in tasks if task["refund_id"] == refund_id), None)

    task = await eventually(open_task, "the finance task")
    assert (task["kind"], task["order_id"]) == ("gateway_abnormal", "O-FAULT-ABNORMAL")
    assert (await refund_status(stack, refund_id, finance))["status"] == "refund_failed"
    await eventually(
        lambda: _has(inbox_events(stack, student, refund_id), "refund_delayed"),
        "the delay notice in the inbox",
    )
    # Where the money is must be settled first: the order stays locked.
    again = await stack.api.post(
        "/api/refunds", headers=student, json={"order_id": "O-FAULT-ABNORMAL", "reason": "再试"}
    )
    assert again.status_code == 409
    # The refund number is spent at the gateway, so it is not asked again.
    url = f"/api/finance/tasks/{task['task_id']}/resolution"
    retry = await stack.api.post(url, headers=finance, json={"outcome": "retry_gateway"})
    assert retry.status_code == 409

    paid = await stack.api.post(
        url,
        headers=finance,
        json={"outcome": "paid_offline", "reference": "BANK-20261124-0001", "note": "学员提供新卡"},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "refunded"
    second_answer = {"outcome": "paid_offline", "reference": "BANK-2"}
    twice = await stack.api.post(url, headers=finance, json=second_answer)
    assert twice.status_code == 409  # answered once
    await eventually(
        lambda: _has(inbox_events(stack, student, refund_id), "refund_succeeded"), "the refunded notice"
    )
    ledger = (await stack.gateway.get("/sandbox/refunds")).json()
    assert ledger["requests_seen"][refund_id] == 1  # the gateway was asked once, and only once

    # The team saw it on staff chat; the CRM heard of the delay and of the payment.
    async def chat_about_refund() -> list[str] | None:
        room = (await stack.gateway.get("/sandbox/staff-chat")).json()
        titles = [m["title"] for m in room if refund_id in m["title"]]
        return titles if len(titles) == 2 else None

    stuck, paid_message = await eventually(chat_about_refund, "two staff-chat messages")
    assert task["task_id"] in stuck and "退款到账" in paid_message

    async def crm_events() -> list[str] | None:
        events = (await stack.gateway.get("/sandbox/crm/events")).json()
        types = [e["type"] for e in events if e["data"]["refund_id"] == refund_id]
        return types if "refund.refunded" in types else None

    types = await eventually(crm_events, "the CRM events")
    assert sorted(types) == ["refund.approved", "refund.delayed", "refund.refunded", "refund.requested"]


async def _has(events: Any, event: str) -> bool:
    return event in await events


TOLD_ONCE = ["refund_approved", "refund_received", "refund_succeeded"]


async def _inbox_is(stack: Stack, student: dict[str, str], refund_id: str, expected: list[str]) -> bool:
    events = await inbox_events(stack, student, refund_id)
    assert len(events) <= len(expected), f"more notices than steps: {events}"
    return events == expected
