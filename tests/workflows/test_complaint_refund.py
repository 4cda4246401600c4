"""A complaint that is a refund request, on the time-skipping server: the refund runs as
RefundWorkflow, a child that outlives nothing it should not; the complaint follows it, resolves
itself once the money is back, takes one refund at a time, and passes on the intake's refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.complaints import ComplaintStage, RefundOnBehalf, ResolutionCode
from domain.refunds import Decision, GatewayOutcome, RefundStatus
from tests.temporal_env import start_local_dev_server, start_time_skipping
from tests.workflows.refund_fakes import TASK_QUEUE, FakeActivities, decision, notices_of, wait_for_status
from tests.workflows.test_complaint_workflow import complaint, events, reply, stage_is, start, stop
from worker import workflow_runner
from workflows.complaint import ComplaintWorkflow
from workflows.refund import RefundWorkflow


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as environment:
        yield environment


REFUND_TEXT = "课程和宣传的不一样，我要退款"


def ask(order_id: str = "O-1") -> RefundOnBehalf:
    return RefundOnBehalf(order_id=order_id, reason="学员投诉课程与宣传不符", by="U-AGENT", by_name="陈客服")


async def test_the_refund_runs_as_a_child_and_its_payment_resolves_the_complaint(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint(REFUND_TEXT))
    await handle.execute_update(ComplaintWorkflow.respond, reply("您好，已为您提交退款申请。"))
    followed = await handle.execute_update(ComplaintWorkflow.request_refund, ask())
    assert followed.refund_id.startswith("RFTEST") and followed.stage is ComplaintStage.IN_PROGRESS
    [intake] = fakes.refund_intakes
    assert (intake.student_id, intake.order_id, intake.requested_fen) == ("S1", "O-1", None)

    refund = env.client.get_workflow_handle_for(RefundWorkflow.run, f"refund-{followed.refund_id}")
    described = await refund.describe()
    assert described.raw_description.workflow_execution_info.parent_execution.workflow_id == handle.id
    with pytest.raises(WorkflowUpdateFailedError):  # one refund at a time
        await handle.execute_update(ComplaintWorkflow.request_refund, ask())

    await refund.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(refund, RefundStatus.REFUNDING)
    await refund.signal(
        RefundWorkflow.gateway_result,
        fakes.result(followed.refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    assert (await refund.result()).status is RefundStatus.REFUNDED
    await stage_is(handle, ComplaintStage.RESOLVED)
    steps = [
        e
        for e in fakes.complaint_events
        if e.event in ("refund.requested", "refund.refunded", "complaint.resolved")
    ]
    assert [s.event for s in steps] == ["refund.requested", "refund.refunded", "complaint.resolved"]
    assert steps[0].detail["refund_id"] == followed.refund_id
    assert steps[2].resolution_code is ResolutionCode.REFUNDED and steps[2].actor == "U-AGENT"
    told = await notices_of(fakes, "complaint_resolved", 1)
    assert followed.refund_id in told[0].context["resolution_summary"]
    await stop(handle)


async def test_a_rejected_refund_leaves_the_complaint_open_for_the_agent(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint(REFUND_TEXT))
    followed = await handle.execute_update(ComplaintWorkflow.request_refund, ask())
    refund = env.client.get_workflow_handle_for(RefundWorkflow.run, f"refund-{followed.refund_id}")
    await refund.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "已超过退款期限"))
    assert (await refund.result()).status is RefundStatus.REJECTED
    for _ in range(100):
        if "refund.rejected" in events(fakes):
            break
        await asyncio.sleep(0.05)
    assert events(fakes)[-1] == "refund.rejected"
    state = await handle.query(ComplaintWorkflow.state)
    assert state.stage is ComplaintStage.ASSIGNED  # still the agent's to settle
    again = await handle.execute_update(ComplaintWorkflow.request_refund, ask())  # may ask again
    assert again.refund_id != followed.refund_id
    await env.client.get_workflow_handle(f"refund-{again.refund_id}").terminate("test done")
    await stop(handle)


async def test_the_intakes_refusal_comes_back_and_nothing_is_followed(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint(REFUND_TEXT))
    fakes.refund_refusal = "order O-1 already has refund RF20261123AAAAAAAAAA in progress"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ComplaintWorkflow.request_refund, ask())
    assert refused.value.cause.type == "RefundRefused" and "in progress" in refused.value.cause.message
    assert "refund.requested" not in events(fakes)
    fakes.refund_refusal = None
    followed = await handle.execute_update(ComplaintWorkflow.request_refund, ask())  # not blocked
    assert followed.refund_id
    await env.client.get_workflow_handle(f"refund-{followed.refund_id}").terminate("test done")
    await stop(handle)


async def test_a_refund_that_ends_badly_is_on_the_complaints_timeline(fakes: FakeActivities) -> None:
    # The dev server: the time-skipping one does not tell a parent that its child was terminated.
    async with (
        await start_local_dev_server() as dev,
        Worker(
            dev.client,
            task_queue=TASK_QUEUE,
            workflows=[RefundWorkflow, ComplaintWorkflow],
            activities=fakes.definitions(),
            workflow_runner=workflow_runner(),
        ),
    ):
        handle = await start(dev, complaint(REFUND_TEXT))
        followed = await handle.execute_update(ComplaintWorkflow.request_refund, ask())
        await dev.client.get_workflow_handle(f"refund-{followed.refund_id}").terminate(
            "stuck; finance pays by hand"
        )
        for _ in range(100):
            if "refund.failed" in events(fakes):
                break
            await asyncio.sleep(0.05)
        [failed] = [e for e in fakes.complaint_events if e.event == "refund.failed"]
        assert failed.detail == {"refund_id": followed.refund_id} and "terminated" in failed.note.lower()
        assert (await handle.query(ComplaintWorkflow.state)).stage is ComplaintStage.ASSIGNED
        await handle.terminate("test done")
