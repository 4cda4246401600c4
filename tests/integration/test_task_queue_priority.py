"""Task queue priority holds on the dev server `make dev` runs (temporal-dev.yml): an activity
scheduled behind a backlog of lower-priority ones starts before that backlog. Two orders depend on it:
deadline work (DEADLINE_PRIORITY) ahead of ordinary work, and a case under way ahead of new cases'
first steps (INTAKE_PRIORITY).

If a server setting turned Temporal's task queue priority off (`matching.useNewMatcher`), an SLA
breach would again wait behind every case taken in before it, and under a flood of new cases every
case would advance a step at a time together; this is the test that would say so."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.common import Priority
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.messenger import DEADLINE_PRIORITY, INTAKE_PRIORITY

BACKLOG = 20


@activity.defn
async def take_turn(name: str) -> str:
    await asyncio.sleep(0.05)
    return name


@workflow.defn(sandboxed=False)
class QueueOrderWorkflow:
    @workflow.run
    async def run(self, backlog_priority: Priority, urgent_priority: Priority) -> list[str]:
        """A backlog of activities at `backlog_priority`, then one at `urgent_priority` once the first
        has run: the order they ran in."""
        ran: list[str] = []

        async def turn(name: str, priority: Priority) -> None:
            ran.append(
                await workflow.execute_activity(
                    take_turn, name, start_to_close_timeout=timedelta(seconds=30), priority=priority
                )
            )

        backlog = [asyncio.create_task(turn(f"queued {n}", backlog_priority)) for n in range(BACKLOG)]
        await workflow.wait_condition(lambda: bool(ran))
        await asyncio.gather(*backlog, turn("urgent", urgent_priority))
        return ran


@pytest.mark.parametrize(
    ("backlog", "urgent"),
    [
        pytest.param(Priority.default, DEADLINE_PRIORITY, id="deadline work ahead of ordinary work"),
        pytest.param(INTAKE_PRIORITY, Priority.default, id="a case under way ahead of new cases"),
    ],
)
async def test_higher_priority_work_starts_ahead_of_a_backlog(
    temporal_env: WorkflowEnvironment, backlog: Priority, urgent: Priority
) -> None:
    task_queue = f"priority-{uuid.uuid4().hex}"
    # One activity at a time, so the backlog waits on the server's queue as a real one would.
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[QueueOrderWorkflow],
        activities=[take_turn],
        max_concurrent_activities=1,
    ):
        ran = await temporal_env.client.execute_workflow(
            QueueOrderWorkflow.run,
            args=[backlog, urgent],
            id=f"priority-{uuid.uuid4().hex}",
            task_queue=task_queue,
        )
    assert len(ran) == BACKLOG + 1
    # In first-come order it would run last; a few queued ones may be on their way to the worker
    # already when it is queued.
    assert ran.index("urgent") <= 4, ran
