"""A long complaint hands its history on (continue-as-new) and carries on as if nothing happened:
same workflow id, steps numbered on, notices numbered on, its clocks where they were — a warning
already given is not given again, one still due comes in the new run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.complaints import AgentNote, ComplaintStage, SurveyAnswer
from tests.temporal_env import start_time_skipping
from tests.workflows.refund_fakes import FakeActivities
from tests.workflows.test_complaint_workflow import complaint, events, reply, resolution, stage_is, start
from workflows.complaint import ComplaintWorkflow


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as environment:
        yield environment


async def handed_on(handle: WorkflowHandle) -> str:
    """The id of the run that continued the first one, once there is one."""
    for _ in range(200):
        latest = (await handle.describe()).run_id
        if latest != handle.first_execution_run_id:
            return latest
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} never continued as new")


async def test_a_long_complaint_continues_as_new_and_keeps_its_clocks_steps_and_notices(
    env: WorkflowEnvironment, worker, fakes: FakeActivities
) -> None:
    handle = await start(env, complaint(history_event_limit=120))
    await handle.execute_update(ComplaintWorkflow.respond, reply())
    await env.sleep(timedelta(minutes=97))  # past 80% of the 2-hour resolution deadline
    for _ in range(100):
        if "sla.resolution.warning" in events(fakes):
            break
        await asyncio.sleep(0.05)
    assert events(fakes).count("sla.resolution.warning") == 1

    # Back and forth until the history is long enough to hand on.
    for number in range(20):
        await handle.execute_update(
            ComplaintWorkflow.add_note, AgentNote(text=f"排查记录 {number}", agent_id="U-AGENT")
        )
    await handed_on(handle)
    first_run = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    first_history = await first_run.fetch_history()
    assert first_history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW

    state = await handle.query(ComplaintWorkflow.state)  # the latest run answers
    assert state.stage is ComplaintStage.IN_PROGRESS and state.timeline[-1].note.startswith("排查记录")
    await handle.execute_update(ComplaintWorkflow.add_note, AgentNote(text="交接后继续", agent_id="U-AGENT"))

    # The resolution deadline passes in the new run: breached once, the warning not repeated.
    await env.sleep(timedelta(minutes=25))
    for _ in range(100):
        if "sla.resolution.breached" in events(fakes):
            break
        await asyncio.sleep(0.05)
    assert events(fakes).count("sla.resolution.breached") == 1
    assert events(fakes).count("sla.resolution.warning") == 1
    assert [n.event.value for n in fakes.notices].count("sla_warning") == 1

    await handle.execute_update(ComplaintWorkflow.resolve, resolution())
    await env.sleep(timedelta(hours=72, minutes=1))
    await stage_is(handle, ComplaintStage.FOLLOW_UP)
    await handle.execute_update(ComplaintWorkflow.answer_survey, SurveyAnswer(satisfied=True))
    final = await handle.result()
    assert final.stage is ComplaintStage.ARCHIVED and final.sla_breached

    keys = [step.event_key for step in fakes.complaint_events]
    assert len(keys) == len(set(keys))  # no step number used twice across the runs
    numbers = [int(key.split(":")[1]) for key in keys]
    assert numbers == sorted(numbers) and numbers[-1] == len(keys)
    notice_ids = [n.notification_id for n in fakes.notices]
    assert len(notice_ids) == len(set(notice_ids))  # nor a notice id
