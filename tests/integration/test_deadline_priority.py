"""Deadline work jumps the queue on the dev server `make dev` runs (temporal-dev.yml): an activity
scheduled with DEADLINE_PRIORITY behind a backlog of ordinary ones starts before that backlog.

If a server setting turned Temporal's task queue priority off (`matching.useNewMatcher`), an SLA
breach would again wait behind every case taken in before it; this is the test that would say so."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import Priority
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.messenger import DEADLINE_PRIORITY

BACKLOG = 20


@activity.defn
async def take_turn(name: str) -> str:
    await asyncio.sleep(0.05)
    return name


@workflow.defn(sandboxed=False)
class QueueOrderWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        """A backlog of ordinary activities, then a deadline one once the first has run: the order
        they ran in."""
        ran: list[str] = []

        async def turn(name: str, priority: Priority) -> None:
            ran.append(
                await workflow.execute_activity(
                    take_turn, name, start_to_close_timeout=timedelta(seconds=30), priority=priority
                )
            )

        backlog = [asyncio.create_task(turn(f"ordinary {n}", Priority.default)) for n in range(BACKLOG)]
        await workflow.wait_condition(lambda: bool(ran))
        await asyncio.gather(*backlog, turn("deadline", DEADLINE_PRIORITY))
        return ran


async def test_deadline_work_starts_ahead_of_a_backlog(temporal_env: WorkflowEnvironment) -> None:
    task_queue = f"priority-{uuid.uuid4().hex}"
    # One activity at a time, so the ordinary ones wait on the server's queue as a backlog would.
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[QueueOrderWorkflow],
        activities=[take_turn],
        max_concurrent_activities=1,
    ):
        ran = await temporal_env.client.execute_workflow(
            QueueOrderWorkflow.run, id=f"priority-{uuid.uuid4().hex}", task_queue=task_queue
        )
    assert len(ran) == BACKLOG + 1
    # In first-come order it would run last; a few ordinary ones may be on their way to the worker
    # already when it is queued.
    assert ran.index("deadline") <= 4, ran
