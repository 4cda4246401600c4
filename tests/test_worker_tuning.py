"""The worker's tuning settings reach the Worker, also when a launcher (make dev, the benches) passes
them to the worker process through its environment."""

from __future__ import annotations

import pytest

from devstack.processes import aftercare_env
from settings import Settings
from worker import worker_tuning

TUNED = {
    "worker_activity_slots": 7,
    "worker_max_cached_workflows": 50,
    "worker_workflow_task_slots": 6,
}


def test_the_settings_a_launcher_passes_on_are_the_ones_the_worker_process_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = aftercare_env(Settings(**TUNED), temporal_address="127.0.0.1:7233", temporal_namespace="aftercare")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    in_the_worker = Settings()
    assert {name: getattr(in_the_worker, name) for name in TUNED} == TUNED
    tuning = worker_tuning(in_the_worker)
    assert (
        tuning["max_concurrent_activities"],
        tuning["max_cached_workflows"],
        tuning["max_concurrent_workflow_tasks"],
    ) == (7, 50, 6)


def test_a_worker_needs_two_workflow_task_slots_to_keep_a_cache() -> None:
    with pytest.raises(ValueError, match="worker_workflow_task_slots"):
        Settings(worker_workflow_task_slots=1)
