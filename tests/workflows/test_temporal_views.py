"""What support sees of a running workflow: the `status` and `timeline` queries, the current details
the Temporal UI shows (read here through the same metadata query the UI uses), and the search
attributes that follow whoever holds the case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import search_attributes
from domain.complaints import AgentReply, ComplaintProgress, ComplaintStage
from domain.finance import PayoutOutcome, PayoutResolution
from domain.refunds import GATEWAY_SETTLES_WITHIN, Decision, GatewayOutcome, RefundProgress, RefundStatus
from tests.temporal_env import search_attribute, start_time_skipping
from tests.workflows.refund_fakes import (
    TASK_QUEUE,
    FakeActivities,
    decision,
    refund_request,
    start,
    wait_for_status,
)
from tests.workflows.test_complaint_workflow import complaint, resolution, stage_is
from workflows.complaint import ComplaintWorkflow
from workflows.refund import RefundWorkflow


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A server per test: complaints left with long timers could stall time skipping for the next."""
    async with await start_time_skipping() as environment:
        yield environment


async def current_details(handle: WorkflowHandle) -> str:
    """What the Temporal UI shows under "Current details" (it asks this built-in query too)."""
    metadata = await handle.query("__temporal_workflow_metadata")
    return metadata.current_details


async def start_complaint(env: WorkflowEnvironment) -> WorkflowHandle:
    request = complaint().model_copy(update={"received_at": await env.get_current_time()})
    return await env.client.start_workflow(
        ComplaintWorkflow.run, request, id=f"complaint-{request.complaint_id}", task_queue=TASK_QUEUE
    )


async def refund_status(handle: WorkflowHandle) -> RefundProgress:
    return await handle.query(RefundWorkflow.status)


async def test_a_refund_says_who_reviews_it_and_by_when_then_what_it_waits_for(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    request = refund_request()
    handle = await start(env.client, request)
    awaiting = next(step for step in fakes.events if step.event == "review.awaiting")
    status = await refund_status(handle)
    assert status.status is RefundStatus.AWAITING_REVIEW
    assert (status.review_group, status.assigned_to, status.due_at) == (
        "regular-courses",
        "U-REV",
        awaiting.review_due_at,
    )
    assert status.details.startswith("Awaiting review by 王审核 (group 系统正价课), due ")
    assert status.details == await current_details(handle)
    assert [entry.event for entry in await handle.query(RefundWorkflow.timeline)] == [
        "refund.requested",
        "review.awaiting",
    ]

    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUNDING)
    status = await refund_status(handle)
    requested = next(step for step in fakes.events if step.event == "gateway.requested")
    # Nobody holds it now; it is late once the gateway has not settled it in time.
    assert (status.assigned_to, status.due_at) == (None, requested.at + GATEWAY_SETTLES_WITHIN)
    assert await search_attribute(handle, search_attributes.ASSIGNED_TO) is None
    assert (
        await search_attribute(handle, search_attributes.SLA_DUE_AT) == requested.at + GATEWAY_SETTLES_WITHIN
    )
    assert await search_attribute(handle, search_attributes.REFUND_STATUS) == "refunding"
    assert "WeChat Pay took the refund of ¥1,799.10; waiting for its callback" in status.details

    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(request.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    await handle.result()
    assert (
        await refund_status(handle)
    ).details == "Refunded ¥1,799.10 via WeChat Pay at 11-24 11:00 Beijing."
    assert await search_attribute(handle, search_attributes.SLA_DUE_AT) is None
    assert await search_attribute(handle, search_attributes.REFUND_STATUS) == "refunded"


async def test_an_overdue_review_and_a_stuck_payout_read_as_such(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    fakes.gateway_refuses = True
    handle = await start(env.client, refund_request())
    await env.sleep(timedelta(hours=48, minutes=1))
    status = await refund_status(handle)
    assert (status.sla_breached, status.assigned_to) == (True, "U-LEAD")
    assert status.details.startswith("**Review overdue** since ")
    assert "escalated to lead 刘主管 of group 系统正价课" in status.details

    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUND_FAILED)
    for _ in range(100):  # the task is opened just after the failure, and handed over once recorded
        status = await refund_status(handle)
        if status.finance_task_id and status.assigned_to:
            break
        await asyncio.sleep(0.05)
    assert (status.assigned_to, status.finance_task_id) == ("finance", fakes.finance_opened[0].task_id)
    assert status.details.startswith(
        "**Stuck at the gateway** (RefundRefusedByGateway: trade closed): "
        f"finance task {status.finance_task_id} is open"
    )
    assert await search_attribute(handle, search_attributes.ASSIGNED_TO) == "finance"

    await handle.execute_update(
        RefundWorkflow.resolve_payout,
        PayoutResolution(outcome=PayoutOutcome.PAID_OFFLINE, reference="BANK-778", resolved_by="U-FIN"),
    )
    await handle.result()
    assert "by transfer (reference BANK-778)" in (await refund_status(handle)).details


async def test_a_complaint_says_whose_it_is_and_which_deadline_comes_next(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start_complaint(env)
    await stage_is(handle, ComplaintStage.ASSIGNED)
    status: ComplaintProgress = await handle.query(ComplaintWorkflow.status)
    assert status.details.startswith(
        "Technical complaint, high, with 陈客服 in tech support; first response due "
    )
    assert status.details == await current_details(handle)
    assert (status.assigned_to, status.steps, status.runs) == ("U-AGENT", 3, 0)

    await handle.execute_update(
        ComplaintWorkflow.ask_customer,
        AgentReply(text="请问您用的是什么设备？", agent_id="U-AGENT", agent_name="陈客服"),
    )
    status = await handle.query(ComplaintWorkflow.status)
    assert status.paused_since is not None
    assert "waiting for the student's answer since" in status.details and "(clock paused)" in status.details
    assert [entry.event for entry in await handle.query(ComplaintWorkflow.timeline)][
        -1
    ] == "agent.asked_customer"
    assert await search_attribute(handle, search_attributes.SLA_DUE_AT) is not None

    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    assert await search_attribute(handle, search_attributes.SLA_DUE_AT) is None  # no clock runs now
    assert await search_attribute(handle, search_attributes.ASSIGNED_TO) == "U-AGENT"
    await handle.terminate("test over")


async def test_a_breached_complaint_says_so_first(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    handle = await start_complaint(env)
    await stage_is(handle, ComplaintStage.ASSIGNED)
    first_response_due = (await handle.query(ComplaintWorkflow.status)).first_response_due_at
    assert first_response_due is not None
    await env.sleep(first_response_due - await env.get_current_time() + timedelta(minutes=1))
    for _ in range(100):
        status = await handle.query(ComplaintWorkflow.status)
        if status.sla_breached:
            break
        await asyncio.sleep(0.05)
    assert status.details.startswith(
        "**SLA breached.** Technical complaint, urgent, with 陈客服 in tech support; "
        "first response overdue since "
    )
    await handle.terminate("test over")
