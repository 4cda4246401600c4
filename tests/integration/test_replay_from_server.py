"""`python -m replay` against a real dev server: a workflow fetched by its id (every run), the
workflows a visibility query finds, and a history exported with `temporal workflow show -o json`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from devstack.temporal_dev_config import venv_binary
from domain.refunds import Decision, RefundStatus
from settings import PROJECT_ROOT
from tests.integration.conftest import temporal_env  # noqa: F401 — the dev server fixture
from tests.workflows.refund_fakes import FakeActivities, decision, refund_request, wait_for_status
from worker import workflow_runner
from workflows.complaint import ComplaintWorkflow
from workflows.refund import RefundWorkflow

pytestmark = pytest.mark.integration


def server_env(env: WorkflowEnvironment) -> dict[str, str]:
    """What points the replay command (through temporalio.envconfig) at this test's server."""
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": env.client.namespace,
    }


def run(command: list[str], env: WorkflowEnvironment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, cwd=PROJECT_ROOT, env=server_env(env), timeout=120
    )


async def test_replay_fetches_histories_from_the_server_and_reads_the_clis_export(
    temporal_env: WorkflowEnvironment,  # noqa: F811
    tmp_path: Path,
) -> None:
    fakes = FakeActivities()
    queue = f"replay-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[RefundWorkflow, ComplaintWorkflow],
        activities=fakes.definitions(),
        workflow_runner=workflow_runner(),
    ):
        request = refund_request()
        handle = await temporal_env.client.start_workflow(
            RefundWorkflow.run, request, id=f"refund-{request.refund_id}", task_queue=queue
        )
        await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
        await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款政策"))
        await handle.result()

    by_id = run([sys.executable, "-m", "replay", "--workflow-id", handle.id], temporal_env)
    assert by_id.returncode == 0, by_id.stdout + by_id.stderr
    [verdict, summary] = by_id.stdout.splitlines()
    assert verdict.startswith(f"ok      {handle.id} run ") and "(RefundWorkflow," in verdict
    assert summary == "1 of 1 histories replayed"

    by_query = run(
        [
            sys.executable,
            "-m",
            "replay",
            "--query",
            f"WorkflowId = '{handle.id}' AND RefundStatus = 'rejected'",
        ],
        temporal_env,
    )
    assert by_query.returncode == 0 and by_query.stdout.splitlines()[-1] == "1 of 1 histories replayed"
    nothing = run([sys.executable, "-m", "replay", "--workflow-id", "refund-NOSUCH"], temporal_env)
    assert nothing.returncode == 2 and "no workflow matches" in nothing.stderr

    exported = run(
        [
            str(venv_binary("temporal")),
            "workflow",
            "show",
            "--workflow-id",
            handle.id,
            "--output",
            "json",
            "--address",
            temporal_env.client.service_client.config.target_host,
            "--namespace",
            temporal_env.client.namespace,
        ],
        temporal_env,
    )
    assert exported.returncode == 0, exported.stderr
    export_file = tmp_path / f"{handle.id}.json"
    export_file.write_text(exported.stdout)
    from_file = run([sys.executable, "-m", "replay", str(export_file)], temporal_env)
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr
    assert from_file.stdout.startswith(f"ok      {export_file}")
