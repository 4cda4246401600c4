"""The floor Temporal itself sets on this machine: a workflow with the refund's shape and none of its
work. Its shape — how many activities, search-attribute upserts and timers each workflow task
commands, and where it waits for the reviewer's update and the gateway's signal — is read from the
recorded history of an approved refund (REFUND_HISTORY), so it follows the real workflow when that
changes and its history is recorded again. Its activities take the task-queue priorities the
refund's took, so it asks Temporal for what the refund asks; docs/benchmarks.md says why that still
does not give it the refunds' order under a flood.

    python -m bench.skeleton --task-queue Q    a worker for it, as its own process (like worker.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import Priority, SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

REFUND_HISTORY = "tests/histories/refund-approved-intake-priority.json"  # from the project root
STATUS = SearchAttributeKey.for_keyword("RefundStatus")
AWAITING = {"update": "awaiting-update", "signal": "awaiting-signal"}


@dataclass(frozen=True)
class Batch:
    """The commands of one workflow task: upserts, then activities side by side (one task-queue
    priority key each, 0 for the default), then (with `waits`) a timer raced by the update
    ("update") or signal ("signal") that cancelled it."""

    upserts: int = 0
    priorities: tuple[int, ...] = ()
    waits: str | None = None
    timer_seconds: float = 0.0

    @property
    def activities(self) -> int:
        return len(self.priorities)


def shape_of(history: dict) -> list[Batch]:
    """A recorded history's commands, one Batch per workflow task that commanded anything."""
    batches: list[Batch] = []
    upserts = 0
    priorities: list[int] = []
    timer_seconds: float | None = None
    waits: str | None = None

    def close() -> None:
        nonlocal upserts, priorities, timer_seconds, waits
        if upserts or priorities or timer_seconds is not None:
            batches.append(Batch(upserts, tuple(priorities), waits, timer_seconds or 0.0))
        upserts, priorities = 0, []
        timer_seconds, waits = None, None

    for event in history["events"]:
        kind = event["eventType"].removeprefix("EVENT_TYPE_")
        if kind == "WORKFLOW_TASK_COMPLETED":
            close()
        elif kind == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            upserts += 1
        elif kind == "ACTIVITY_TASK_SCHEDULED":
            scheduled = event["activityTaskScheduledEventAttributes"]
            priorities.append(scheduled.get("priority", {}).get("priorityKey", 0))
        elif kind == "TIMER_STARTED":
            timer_seconds = float(event["timerStartedEventAttributes"]["startToFireTimeout"].rstrip("s"))
        elif kind in ("WORKFLOW_EXECUTION_UPDATE_ACCEPTED", "WORKFLOW_EXECUTION_SIGNALED"):
            # What cancels the timer the workflow started last (in this task's commands, or before).
            if timer_seconds is not None:
                waits = "update" if "UPDATE" in kind else "signal"
                continue
            waiting = next(i for i in range(len(batches) - 1, -1, -1) if batches[i].timer_seconds)
            batches[waiting] = replace(batches[waiting], waits="update" if "UPDATE" in kind else "signal")
    close()
    return batches


def refund_shape() -> list[Batch]:
    from settings import PROJECT_ROOT  # not at import: the workflow sandbox imports this module too

    return shape_of(json.loads((PROJECT_ROOT / REFUND_HISTORY).read_text()))


@dataclass(frozen=True)
class ShapeCount:
    activities: int
    upserts: int
    timers: int
    updates: int
    signals: int


def count(shape: list[Batch]) -> ShapeCount:
    return ShapeCount(
        activities=sum(b.activities for b in shape),
        upserts=sum(b.upserts for b in shape),
        timers=sum(1 for b in shape if b.timer_seconds),
        updates=sum(1 for b in shape if b.waits == "update"),
        signals=sum(1 for b in shape if b.waits == "signal"),
    )


@activity.defn
async def nothing(step: int) -> int:
    return step


@workflow.defn
class SkeletonWorkflow:
    def __init__(self) -> None:
        self._decided = False
        self._paid = False
        self._past_decision = False

    @workflow.run
    async def run(self, shape: list[Batch]) -> int:
        step = 0
        for batch in shape:
            for n in range(max(batch.upserts, 1 if batch.waits else 0)):
                step += 1
                # The last upsert before a wait says what it waits for: the driver finds it by that.
                waiting = batch.waits and n == max(batch.upserts, 1) - 1
                workflow.upsert_search_attributes(
                    [STATUS.value_set(AWAITING[batch.waits] if waiting else f"step-{step}")]
                )
            calls = [
                workflow.execute_activity(
                    nothing,
                    step + n,
                    start_to_close_timeout=timedelta(seconds=30),
                    priority=Priority(priority_key=key) if key else Priority.default,
                )
                for n, key in enumerate(batch.priorities)
            ]
            step += batch.activities
            await asyncio.gather(*calls)
            if batch.waits == "update":
                await workflow.wait_condition(lambda: self._decided, timeout=batch.timer_seconds)
                self._past_decision = True
            elif batch.waits == "signal":
                try:
                    await workflow.wait_condition(lambda: self._paid, timeout=batch.timer_seconds)
                except TimeoutError:  # as the refund does, it waits on past the timer (a machine under load)
                    await workflow.wait_condition(lambda: self._paid)
        return step

    @workflow.update
    async def decide(self, decision: str) -> str:
        self._decided = True
        await workflow.wait_condition(lambda: self._past_decision)
        return decision

    @workflow.signal
    def paid(self) -> None:
        self._paid = True


def start_attributes() -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(STATUS, "requested")])


class SkeletonDriver:
    """Starts skeletons, at most `at_once` starts in flight, and plays the reviewer and the gateway:
    like them it acts on a workflow once it waits — found by a visibility query every `poll_seconds`,
    a page of 50 at a time, as reviewers read their queue — by update (the decision), then by signal
    (the payment's callback)."""

    PAGE = 50

    def __init__(self, client: Client, task_queue: str, *, poll_seconds: float = 0.5) -> None:
        self.client = client
        self.task_queue = task_queue
        self.poll_seconds = poll_seconds
        self.finished: list[float] = []  # when each workflow's result came back (epoch)
        self.errors: Counter[str] = Counter()
        self.error_examples: dict[str, str] = {}
        self._all_started = asyncio.Event()
        self._done = asyncio.Event()

    async def run(self, count: int, at_once: int, id_prefix: str) -> None:
        slots = asyncio.Semaphore(at_once)

        async def one(number: int) -> bool:
            async with slots:
                return await self._guarded(
                    self.client.start_workflow(
                        SkeletonWorkflow.run,
                        refund_shape(),
                        id=f"{id_prefix}-{number}",
                        task_queue=self.task_queue,
                        search_attributes=start_attributes(),
                    )
                )

        async with asyncio.TaskGroup() as running:
            running.create_task(self._act_on("update"))
            running.create_task(self._act_on("signal"))
            started = sum(await asyncio.gather(*(one(n) for n in range(count))))
            await self._read_closed(started)
            self._done.set()

    async def _read_closed(self, started: int) -> None:
        """When each skeleton closed, read from visibility once all have, as the refunds' end is
        read from the inbox. Waiting on each one's result held a long poll per workflow open, and at
        2,000 the server refused them past its namespace's limit of concurrent polls — a limit the
        skeleton worker's own task polls count against too."""
        closed = f'{self._mine} AND ExecutionStatus != "Running"'
        while True:  # the server's count: there is no event of ours to wait on
            if (await self.client.count_workflows(closed)).count >= started:
                break
            await asyncio.sleep(self.poll_seconds)
        async for execution in self.client.list_workflows(closed):
            if execution.status is WorkflowExecutionStatus.COMPLETED and execution.close_time:
                self.finished.append(execution.close_time.timestamp())
            else:
                kind = f"workflow {execution.status.name.lower() if execution.status else 'closed'}"
                self.errors[kind] += 1
                self.error_examples.setdefault(kind, execution.id)

    @property
    def _mine(self) -> str:
        return f'WorkflowType = "SkeletonWorkflow" AND TaskQueue = "{self.task_queue}"'

    async def _act_on(self, waits: str) -> None:
        query = f'{self._mine} AND RefundStatus = "{AWAITING[waits]}" AND ExecutionStatus = "Running"'
        acted: set[str] = set()
        async with asyncio.TaskGroup() as calls:
            while not self._done.is_set():
                found = [w.id async for w in self.client.list_workflows(query, limit=self.PAGE)]
                fresh = [workflow_id for workflow_id in found if workflow_id not in acted]
                for workflow_id in fresh:
                    acted.add(workflow_id)
                    calls.create_task(self._act(waits, workflow_id, acted))
                if len(fresh) < self.PAGE:
                    await asyncio.sleep(self.poll_seconds)

    async def _act(self, waits: str, workflow_id: str, acted: set[str]) -> None:
        handle = self.client.get_workflow_handle(workflow_id)
        if waits == "update":
            call = handle.execute_update(SkeletonWorkflow.decide, "approve")
        else:
            call = handle.signal(SkeletonWorkflow.paid)
        if not await self._guarded(call):
            acted.discard(workflow_id)  # found waiting again at the next look, and asked again

    async def _guarded(self, call: Awaitable[object]) -> bool:
        try:
            await call
            return True
        except Exception as exc:  # counted and shown: the bench reports errors rather than stopping
            kind = type(exc).__name__
            self.errors[kind] += 1
            self.error_examples.setdefault(kind, str(exc)[:300])
            return False


async def main() -> None:
    from integrations.temporal import connect  # the worker's own way in: same namespace, same converter
    from settings import get_settings
    from worker import worker_tuning

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s skeleton %(levelname)s %(message)s")
    settings = get_settings()
    client = await connect(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=args.task_queue,
        workflows=[SkeletonWorkflow],
        activities=[nothing],
        **worker_tuning(settings),
    ):
        logging.info("skeleton worker polling %r", args.task_queue)
        await stop.wait()


if __name__ == "__main__":
    # Imported here, not at the top: the sandbox re-imports this module for every workflow run,
    # and the skeleton is to carry none of the project's modules.
    from integrations.temporal import exit_skipping_teardown

    asyncio.run(main())
    exit_skipping_teardown(0)
