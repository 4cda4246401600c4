"""Every exported history in tests/histories/ replays against today's workflow code — the proof that
a change is safe for the workflows already running — and the worked example of a change made safe
with `workflow.patched` (docs/operations.md): old and new histories replay with the guard, the old
ones fail without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import temporalio.workflow
from temporalio.client import WorkflowHistory

import replay
from settings import PROJECT_ROOT
from workflows.refund import STUDENT_TOLD_OF_LATE_REVIEW

HISTORIES = PROJECT_ROOT / "tests" / "histories"
ALL_HISTORIES = sorted(HISTORIES.glob("*.json"))

# The main paths, and a step (recorded by the records activity) that proves each took its path.
MAIN_PATHS = {
    "refund-approved": ("RefundWorkflow", {"review.approved", "gateway.succeeded"}),
    "refund-approved-intake-priority": ("RefundWorkflow", {"review.approved", "gateway.succeeded"}),
    "refund-rejected": ("RefundWorkflow", {"review.rejected"}),
    "refund-rejected-by-policy": ("RefundWorkflow", {"review.rejected_by_policy"}),
    "refund-gateway-delay": ("RefundWorkflow", {"gateway.requested", "gateway.succeeded"}),
    "refund-review-escalated": ("RefundWorkflow", {"review.escalated", "review.approved"}),
    "refund-review-escalated-student-told": ("RefundWorkflow", {"review.escalated"}),
    "refund-manager-call": ("RefundWorkflow", {"confirmation.reminder", "confirmation.confirmed"}),
    "refund-paid-offline": ("RefundWorkflow", {"finance.task_opened", "finance.paid_offline"}),
    "complaint-resolved": (
        "ComplaintWorkflow",
        {"complaint.resolved", "survey.answered", "complaint.archived"},
    ),
    "complaint-sla-breached": ("ComplaintWorkflow", {"sla.first_response.breached", "complaint.archived"}),
    "complaint-compensation-approved": ("ComplaintWorkflow", {"compensation.approved", "complaint.archived"}),
    "complaint-follow-up-reopened": ("ComplaintWorkflow", {"complaint.reopened", "complaint.archived"}),
    "complaint-refund": ("ComplaintWorkflow", {"refund.requested", "refund.refunded", "complaint.archived"}),
    "complaint-refund-child": ("RefundWorkflow", {"gateway.succeeded"}),
    "complaint-continued-run-1": ("ComplaintWorkflow", {"agent.replied"}),
    "complaint-continued-run-2": ("ComplaintWorkflow", {"complaint.archived"}),
}


def activity_inputs(history: WorkflowHistory, activity_type: str) -> list[dict]:
    """The (JSON) inputs of every activity of this type the workflow scheduled."""
    inputs = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == activity_type:
                inputs.extend(json.loads(payload.data) for payload in scheduled.input.payloads)
    return inputs


def steps_recorded(history: WorkflowHistory) -> set[str]:
    return {
        step["event"]
        for kind in ("record_refund_event", "record_complaint_event")
        for step in activity_inputs(history, kind)
    }


def notices_sent(history: WorkflowHistory) -> set[str]:
    return {notice["event"] for notice in activity_inputs(history, "send_notice")}


async def verdicts_of(*names: str) -> dict[str, str | None]:
    verdicts = await replay.replay_histories(replay.from_files(HISTORIES / f"{name}.json" for name in names))
    return {Path(verdict.name).stem: verdict.failure for verdict in verdicts}


@pytest.mark.parametrize("path", ALL_HISTORIES, ids=lambda path: path.stem)
async def test_every_exported_history_replays_against_todays_code(path: Path) -> None:
    [verdict] = await replay.replay_histories(replay.from_files([path]))
    assert verdict.failure is None, verdict.line()


@pytest.mark.parametrize("name", sorted(MAIN_PATHS))
def test_the_histories_cover_each_workflow_type_and_main_path(name: str) -> None:
    history = replay.read_history(HISTORIES / f"{name}.json")
    workflow_type, steps = MAIN_PATHS[name]
    assert replay.workflow_type_of(history) == workflow_type
    assert steps <= steps_recorded(history), f"{name} does not take its path"


def test_no_history_is_left_out_of_the_main_paths() -> None:
    assert {path.stem for path in ALL_HISTORIES} == set(MAIN_PATHS)


async def test_the_patched_change_is_safe_for_old_histories_and_unsafe_without_its_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = "refund-review-escalated", "refund-review-escalated-student-told"
    # The old history escalated before the change (no notice to the student); the new one after.
    assert "refund_review_late" not in notices_sent(replay.read_history(HISTORIES / f"{old}.json"))
    assert "refund_review_late" in notices_sent(replay.read_history(HISTORIES / f"{new}.json"))
    assert await verdicts_of(old, new) == {old: None, new: None}

    # The same change without its guard: the old history no longer replays (nor does the new one,
    # whose patch marker nothing claims: a guard is retired with workflow.deprecate_patch).
    monkeypatch.setattr(temporalio.workflow, "patched", lambda patch_id, **_: True)
    unguarded = await verdicts_of(old, new, "refund-approved")
    assert unguarded[old] is not None and unguarded[old].startswith("NondeterminismError")
    assert unguarded[new] is not None and "patch marker" in unguarded[new]
    assert unguarded["refund-approved"] is None  # never reached the change

    # And taking the change out again would strand the refunds that made it.
    monkeypatch.setattr(
        temporalio.workflow, "patched", lambda patch_id, **_: patch_id != STUDENT_TOLD_OF_LATE_REVIEW
    )
    reverted = await verdicts_of(old, new)
    assert reverted[old] is None and reverted[new] is not None


def run_replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replay", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120
    )


def test_the_replay_command_gives_a_verdict_per_history_and_its_exit_status(tmp_path: Path) -> None:
    replayed = run_replay(*map(str, ALL_HISTORIES))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    lines = replayed.stdout.splitlines()
    assert sum(line.startswith("ok ") for line in lines) == len(ALL_HISTORIES)
    assert lines[-1] == f"{len(ALL_HISTORIES)} of {len(ALL_HISTORIES)} histories replayed"

    not_a_history = tmp_path / "notes.json"
    not_a_history.write_text('{"hello": "world"}')
    assert run_replay(str(not_a_history)).returncode == 2
    missing = run_replay(str(tmp_path / "missing.json"))
    assert missing.returncode == 2 and "no such history file" in missing.stderr
    assert run_replay().returncode == 2  # nothing to replay: usage
