"""The bench's skeleton is only a fair floor if it asks Temporal for what a refund asks: the same
activities at the same task-queue priorities, search-attribute upserts, timers, update and signal,
read from the recorded history."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Worker

from bench.skeleton import REFUND_HISTORY, SkeletonDriver, SkeletonWorkflow, count, nothing, refund_shape
from settings import PROJECT_ROOT
from tests.temporal_env import start_local_dev_server
from worker import workflow_runner
from workflows.messenger import INTAKE_PRIORITY

# Event types of a history that the skeleton must reproduce, by what the shape calls them.
COUNTED_EVENTS = {
    "activities": "ACTIVITY_TASK_SCHEDULED",
    "upserts": "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
    "timers": "TIMER_STARTED",
    "updates": "WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
    "signals": "WORKFLOW_EXECUTION_SIGNALED",
}


def recorded_refund() -> WorkflowHistory:
    """The approved refund's history, read by the SDK (not by the shape's own reading of it)."""
    return WorkflowHistory.from_json("refund", (PROJECT_ROOT / REFUND_HISTORY).read_text())


def event_counts(history: WorkflowHistory) -> dict[str, int]:
    seen = Counter(EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events)
    return {name: seen[kind] for name, kind in COUNTED_EVENTS.items()}


def activity_priorities(history: WorkflowHistory) -> list[int]:
    """Each scheduled activity's priority key, in order (0: the default)."""
    return [
        event.activity_task_scheduled_event_attributes.priority.priority_key
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]


def test_the_shape_counts_what_the_approved_refund_asked_of_temporal() -> None:
    recorded = event_counts(recorded_refund())
    assert count(refund_shape()).__dict__ == recorded
    assert recorded == {"activities": 22, "upserts": 11, "timers": 2, "updates": 1, "signals": 1}


def test_the_shape_takes_each_activity_at_the_priority_the_refund_gave_it() -> None:
    shaped = [key for batch in refund_shape() for key in batch.priorities]
    assert shaped == activity_priorities(recorded_refund())
    # the receipt at intake priority, then the rest at the default
    assert shaped[0] == INTAKE_PRIORITY.priority_key and set(shaped[1:]) == {0}


def test_the_update_and_the_signal_each_end_the_timer_they_race() -> None:
    waits = [(batch.waits, batch.timer_seconds) for batch in refund_shape() if batch.timer_seconds]
    assert [waited for waited, _ in waits] == ["update", "signal"]


@pytest.mark.integration
async def test_a_skeleton_driven_as_the_bench_drives_it_asks_temporal_for_what_the_refund_asked() -> None:
    """The driver decides and pays each skeleton only once it waits, as reviewers and the gateway do:
    so its timers start and are cancelled, as the refund's were."""
    async with await start_local_dev_server() as env:  # the driver looks workflows up: visibility
        task_queue = f"skeleton-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[SkeletonWorkflow],
            activities=[nothing],
            workflow_runner=workflow_runner(),
        ):
            driver = SkeletonDriver(env.client, task_queue, poll_seconds=0.1)
            await driver.run(3, at_once=2, id_prefix=task_queue)
            histories = [
                await env.client.get_workflow_handle(f"{task_queue}-{n}").fetch_history() for n in range(3)
            ]
    assert len(driver.finished) == 3 and not driver.errors, driver.error_examples
    recorded_priorities = activity_priorities(recorded_refund())
    for history in histories:
        assert event_counts(history) == count(refund_shape()).__dict__
        assert activity_priorities(history) == recorded_priorities
