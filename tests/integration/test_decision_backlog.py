"""A reviewer's decision while the worker is behind: the workflow takes it at once, but the step
that records it waits its turn (held here at a gate). The reviewer is told it was taken (202), not
"try again" (503); sending it again is the same decision, not an error; another decision meanwhile
is refused by name; and it is recorded once."""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import AuditEvent
from domain.refunds import RefundEvent
from tests.integration.conftest import Stack, running_stack
from tests.integration.journey import ask_until_awaiting_review, eventually, login, push_order, status_is
from worker import WORKFLOWS, build_activities, worker_tuning

pytestmark = pytest.mark.integration

# Far shorter than any backlog held at the gate, so the API stops waiting while the step is held.
CALL_TIMEOUT_SECONDS = 2.0


@dataclass
class HeldStack:
    stack: Stack
    gate: threading.Event  # opened: decisions may be recorded


def holding_decisions_at(gate: threading.Event, record_refund_event):
    """record_refund_event, with the recording of a review decision held until the gate opens
    (as a backlog of other refunds' work would hold it)."""

    @activity.defn(name="record_refund_event")
    def held(step: RefundEvent) -> None:
        if step.event.startswith("review.") and step.event != "review.awaiting":
            gate.wait(timeout=60)
        record_refund_event(step)

    return held


@pytest_asyncio.fixture(scope="module")
async def held(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HeldStack]:
    gate = threading.Event()
    async with running_stack(
        temporal_env,
        database_url,
        tmp_path_factory.mktemp("data"),
        worker_in_process=False,
        temporal_call_timeout_seconds=CALL_TIMEOUT_SECONDS,
    ) as stack:
        activities = [
            holding_decisions_at(gate, found)
            if getattr(found, "__name__", "") == "record_refund_event"
            else found
            for found in build_activities(stack.settings, stack.sessions)
        ]
        with ThreadPoolExecutor(max_workers=stack.settings.worker_activity_slots) as executor:
            async with Worker(
                stack.client,
                task_queue=stack.settings.task_queue,
                workflows=WORKFLOWS,
                activities=activities,
                activity_executor=executor,
                **worker_tuning(stack.settings),
            ):
                yield HeldStack(stack, gate)
                gate.set()  # let held steps finish before the worker shuts down


async def test_a_decision_taken_behind_a_backlog_is_acknowledged_and_recorded_once(held: HeldStack) -> None:
    stack = held.stack
    order_id = f"ORD-HELD-{secrets.token_hex(3)}"
    await push_order(stack, order_id, 99_900)
    refund_id, student = await ask_until_awaiting_review(stack, order_id)
    reviewer = await login(stack.api, "reviewer@demo")
    url = f"/api/refunds/{refund_id}/decision"
    approval = {"decision": "approve", "reason": "符合退款政策"}

    taken = await stack.api.post(url, headers=reviewer, json=approval)
    assert taken.status_code == 202, taken.text
    assert taken.json() == {"refund_id": refund_id, "status": "awaiting_review", "being_recorded": True}

    # Sent again (a double click, a client's retry): the same update, answered the same way.
    again = await stack.api.post(url, headers=reviewer, json=approval)
    assert again.status_code == 202, again.text

    # Anyone deciding otherwise meanwhile is told who decided what, and nothing changes.
    lead = await login(stack.api, "lead@demo")
    other = await stack.api.post(url, headers=lead, json={"decision": "reject", "reason": "材料不全"})
    assert other.status_code == 409, other.text
    assert "approve by 王审核" in other.json()["detail"]
    assert "being recorded" in other.json()["detail"]

    held.gate.set()
    await eventually(
        lambda: status_is(stack, refund_id, student, "refunded"), "refunded after the held approval", 60
    )
    with stack.sessions() as session:
        decisions = session.exec(
            select(AuditEvent.event, AuditEvent.actor).where(
                AuditEvent.case_id == refund_id, AuditEvent.event.startswith("review.")
            )
        ).all()
    assert sorted(decisions) == [("review.approved", "U2001"), ("review.awaiting", "system")]

    # Once recorded, the same request is told where the refund stands.
    late = await stack.api.post(url, headers=reviewer, json=approval)
    assert late.status_code == 409 and "refunded" in late.json()["detail"], late.text
