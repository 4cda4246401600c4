"""Records the histories in this folder: each main path of each workflow type, run on the
time-skipping server with the workflow tests' fake activities, exported as
`temporal workflow show --output json` writes them.

    .venv/bin/python -m tests.histories.record            every scenario (overwrites the files)
    .venv/bin/python -m tests.histories.record NAME ...   only these

Record again only on purpose: the point of these files is that they were made by *earlier* code, so
that replaying them proves today's code still runs the workflows already in flight. A change that
makes one of them fail to replay needs `workflow.patched` (docs/operations.md), not a new recording.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.compensation import CompensationDecision, CompensationKind, CompensationOffer
from domain.complaints import AgentNote, ComplaintStage, RefundOnBehalf, SurveyAnswer
from domain.finance import PayoutOutcome, PayoutResolution
from domain.policy import Eligibility
from domain.refunds import ConfirmationOutcome, Decision, GatewayOutcome, ManagerConfirmation, RefundStatus
from domain.roles import Role
from tests.temporal_env import start_time_skipping
from tests.workflows.refund_fakes import TASK_QUEUE, FakeActivities, decision, refund_request, wait_for_status
from tests.workflows.test_complaint_workflow import complaint, reply, resolution, stage_is
from worker import workflow_runner
from workflows.complaint import ComplaintWorkflow
from workflows.refund import RefundWorkflow

HERE = Path(__file__).parent
# Each scenario drives workflows to their end and returns the runs to keep: the file is named after
# the scenario, with the run's suffix when it keeps more than one ("" for the main one).
Scenario = Callable[[WorkflowEnvironment, FakeActivities], Awaitable[dict[str, WorkflowHandle]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(function: Scenario) -> Scenario:
    SCENARIOS[function.__name__.replace("_", "-")] = function
    return function


async def start_refund(env: WorkflowEnvironment, name: str, **request_options) -> WorkflowHandle:
    request = refund_request(**request_options).model_copy(update={"refund_id": f"RFHIST{name.upper()}"})
    return await env.client.start_workflow(
        RefundWorkflow.run, request, id=f"refund-{request.refund_id}", task_queue=TASK_QUEUE
    )


async def paid_by_callback(handle: WorkflowHandle, fakes: FakeActivities) -> None:
    await wait_for_status(handle, RefundStatus.REFUNDING)
    refund_id = handle.id.removeprefix("refund-")
    await handle.signal(
        RefundWorkflow.gateway_result,
        fakes.result(refund_id, 179_910, 199_900, GatewayOutcome.SUCCESS, "callback"),
    )
    await handle.result()


async def start_complaint(env: WorkflowEnvironment, name: str, **request_options) -> WorkflowHandle:
    request = complaint(**request_options).model_copy(
        update={"complaint_id": f"CPHIST{name.upper()}", "received_at": await env.get_current_time()}
    )
    handle = await env.client.start_workflow(
        ComplaintWorkflow.run, request, id=f"complaint-{request.complaint_id}", task_queue=TASK_QUEUE
    )
    await stage_is(handle, ComplaintStage.ASSIGNED)
    return handle


async def follow_up_and_archive(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    await handle.execute_update(ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=True, comment="满意"))
    await handle.result()


# --- refunds -------------------------------------------------------------------------------------


@scenario
async def refund_approved(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    """Reviewed in time, paid, the gateway's callback arrives: refunded."""
    handle = await start_refund(env, "approved")
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await paid_by_callback(handle, fakes)
    return {"": handle}


# The same path recorded again after a new case's first step took the intake priority
# (INTAKE_PRIORITY): its activities carry task-queue priorities, and the bench's skeleton reads its
# shape, priorities included, from this one. refund-approved.json is from before it.
SCENARIOS["refund-approved-intake-priority"] = refund_approved


@scenario
async def refund_rejected(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    handle = await start_refund(env, "rejected")
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "课程已过半，超出退款期限"))
    await handle.result()
    return {"": handle}


@scenario
async def refund_rejected_by_policy(
    env: WorkflowEnvironment, fakes: FakeActivities
) -> dict[str, WorkflowHandle]:
    handle = await start_refund(
        env, "policy", eligibility=Eligibility.INELIGIBLE, reason_text="已超过开课后 7 天的退款期限"
    )
    await handle.result()
    return {"": handle}


@scenario
async def refund_gateway_delay(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    """No callback comes: the workflow asks the gateway's query API, which says processing, then success."""
    handle = await start_refund(env, "delay")
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    fakes.query_answer = GatewayOutcome.PROCESSING
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUNDING)
    await env.sleep(timedelta(minutes=7))  # asked after 1 minute, then 5 more
    fakes.query_answer = GatewayOutcome.SUCCESS
    await handle.result()
    return {"": handle}


@scenario
async def refund_review_escalated(
    env: WorkflowEnvironment, fakes: FakeActivities
) -> dict[str, WorkflowHandle]:
    """Nobody reviews it: the reviewer is reminded, then the review SLA is breached and a lead takes it."""
    handle = await start_refund(env, "escalated")
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    await env.sleep(timedelta(hours=48, minutes=5))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE, "主管审核：符合政策"))
    await paid_by_callback(handle, fakes)
    return {"": handle}


# The same path recorded again after the student was told of a late review (the patch
# STUDENT_TOLD_OF_LATE_REVIEW): refund-review-escalated.json is from before it.
SCENARIOS["refund-review-escalated-student-told"] = refund_review_escalated


@scenario
async def refund_manager_call(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    handle = await start_refund(env, "call", manager_call=True)
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.AWAITING_CONFIRMATION)
    await env.sleep(timedelta(hours=25))  # one reminder to staff chat
    await handle.execute_update(
        RefundWorkflow.confirm,
        ManagerConfirmation(
            outcome=ConfirmationOutcome.CONFIRMED,
            note="已电话确认，学员坚持退款",
            manager_id="U-LEAD",
            manager_name="刘主管",
        ),
    )
    await paid_by_callback(handle, fakes)
    return {"": handle}


@scenario
async def refund_paid_offline(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    """The gateway refuses; a finance task opens; finance pays by bank transfer."""
    fakes.gateway_refuses = True
    handle = await start_refund(env, "offline")
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await wait_for_status(handle, RefundStatus.REFUND_FAILED)
    for _ in range(100):  # the task opens just after the failure is recorded
        if fakes.finance_opened:
            break
        await asyncio.sleep(0.05)
    await handle.execute_update(
        RefundWorkflow.resolve_payout,
        PayoutResolution(
            outcome=PayoutOutcome.PAID_OFFLINE, reference="BANK-20261202-778", resolved_by="U-FIN"
        ),
    )
    await handle.result()
    return {"": handle}


# --- complaints ----------------------------------------------------------------------------------


@scenario
async def complaint_resolved(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    """Answered in time, resolved, followed up, the student satisfied: archived."""
    handle = await start_complaint(env, "resolved")
    await handle.execute_update(
        ComplaintWorkflow.add_note, AgentNote(text="疑似华东线路问题", agent_id="U-AGENT")
    )
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await follow_up_and_archive(env, handle)
    return {"": handle}


@scenario
async def complaint_sla_breached(
    env: WorkflowEnvironment, fakes: FakeActivities
) -> dict[str, WorkflowHandle]:
    """Nobody answers: warned at 80%, breached at the deadline (a lead told, severity raised)."""
    handle = await start_complaint(env, "breached")
    await env.sleep(timedelta(minutes=15))  # the first-response deadline is 10 minutes
    await handle.execute_update(ComplaintWorkflow.respond, reply("抱歉久等，已为您切换线路。"))
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await follow_up_and_archive(env, handle)
    return {"": handle}


@scenario
async def complaint_compensation_approved(
    env: WorkflowEnvironment, fakes: FakeActivities
) -> dict[str, WorkflowHandle]:
    """A coupon beyond the agent's quota waits for a lead, who approves it; then resolved and archived."""
    handle = await start_complaint(env, "compensated")
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    offer = CompensationOffer(
        kind=CompensationKind.COUPON,
        amount_fen=8_000,
        reason="直播卡顿影响上课",
        by="U-AGENT",
        by_name="陈客服",
        by_role=Role.AGENT,
    )
    waiting = await handle.execute_update(ComplaintWorkflow.compensate, offer)
    await handle.execute_update(
        ComplaintWorkflow.decide_compensation,
        CompensationDecision(
            compensation_id=waiting.compensation_id,
            approve=True,
            note="同意补偿",
            by="U-LEAD",
            by_name="刘主管",
        ),
    )
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await follow_up_and_archive(env, handle)
    return {"": handle}


@scenario
async def complaint_follow_up_reopened(
    env: WorkflowEnvironment, fakes: FakeActivities
) -> dict[str, WorkflowHandle]:
    """The student is not satisfied at the follow-up: reopened, resolved again, then archived."""
    handle = await start_complaint(env, "reopened")
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    await handle.execute_update(
        ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=False, comment="还是卡，没有解决")
    )
    await handle.execute_update(ComplaintWorkflow.respond, reply("已为您更换 CDN 节点，请再试。"))
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await follow_up_and_archive(env, handle)
    return {"": handle}


@scenario
async def complaint_refund(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    """A complaint that is a refund request: the refund runs as a child; paid, it resolves the complaint."""
    handle = await start_complaint(env, "refund", text="课程和宣传的不一样，我要退款")
    await handle.execute_update(ComplaintWorkflow.respond, reply("您好，已为您提交退款申请。"))
    followed = await handle.execute_update(
        ComplaintWorkflow.request_refund,
        RefundOnBehalf(order_id="O-1", reason="学员投诉课程与宣传不符", by="U-AGENT", by_name="陈客服"),
    )
    refund = env.client.get_workflow_handle(f"refund-{followed.refund_id}")
    await wait_for_status(refund, RefundStatus.AWAITING_REVIEW)
    await refund.execute_update(RefundWorkflow.decide, decision(Decision.APPROVE))
    await paid_by_callback(refund, fakes)
    await stage_is(handle, ComplaintStage.RESOLVED)
    await follow_up_and_archive(env, handle)
    return {"": handle, "child": refund}


@scenario
async def complaint_continued(env: WorkflowEnvironment, fakes: FakeActivities) -> dict[str, WorkflowHandle]:
    """A long complaint hands its history on (continue-as-new); both runs are kept."""
    handle = await start_complaint(env, "continued", history_event_limit=120)
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    for number in range(20):
        await handle.execute_update(
            ComplaintWorkflow.add_note, AgentNote(text=f"排查记录 {number}", agent_id="U-AGENT")
        )
    for _ in range(200):
        if (await handle.describe()).run_id != handle.first_execution_run_id:
            break
        await asyncio.sleep(0.05)
    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await follow_up_and_archive(env, handle)
    first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    latest = env.client.get_workflow_handle(handle.id, run_id=(await handle.describe()).run_id)
    return {"run-1": first, "run-2": latest}


async def record(names: list[str]) -> None:
    for name in names:
        fakes = FakeActivities()
        async with (
            await start_time_skipping() as env,
            Worker(
                env.client,
                task_queue=TASK_QUEUE,
                workflows=[RefundWorkflow, ComplaintWorkflow],
                activities=fakes.definitions(),
                workflow_runner=workflow_runner(),
            ),
        ):
            kept = await SCENARIOS[name](env, fakes)
            for suffix, handle in kept.items():
                history = await handle.fetch_history()
                path = HERE / f"{'-'.join(filter(None, [name, suffix]))}.json"
                path.write_text(json.dumps(history.to_json_dict(), ensure_ascii=False) + "\n")
                print(f"{path.relative_to(HERE.parent.parent)}: {len(history.events)} events")


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(SCENARIOS)
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        sys.exit(f"unknown scenarios {unknown}; known: {sorted(SCENARIOS)}")
    asyncio.run(record(chosen))
