"""The worker's Temporal SDK metrics on their Prometheus endpoint. `worker.py` runs as its own
process: a Runtime's HTTP server holds its port for the life of the process, so the test process
itself never builds one, and each worker here gets a free port of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from db.migrate import upgrade
from devstack.processes import free_port
from settings import PROJECT_ROOT
from tests.integration.conftest import Stack, running_stack
from tests.integration.journey import eventually, request_and_approve, status_is
from tests.integration.worker_process import worker_for_stack

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """SQLite only: what is measured here is the SDK's, not the database's."""
    data_dir = tmp_path_factory.mktemp("worker-metrics")
    url = f"sqlite:///{data_dir / 'aftercare.db'}"
    upgrade(url)
    async with running_stack(temporal_env, url, data_dir, worker_in_process=False) as running:
        yield running


@pytest.fixture(scope="module")
def metrics_url(stack: Stack, temporal_env: WorkflowEnvironment) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    worker = worker_for_stack(stack, temporal_env, metrics_address=address)
    worker.start()
    yield f"http://{address}/metrics"
    worker.stop()


def total(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` that carry all of `labels`, read from the text format."""
    found = 0.0
    for line in exposition.splitlines():
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] == name and all(f'{key}="{v}"' in series for key, v in labels.items()):
            found += float(value)
    return found


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
    assert response.status_code == 200
    return response.text


async def test_the_worker_serves_the_sdk_metrics_of_the_workflows_it_ran(
    stack: Stack, metrics_url: str
) -> None:
    refund_id, student = await request_and_approve(stack, "O-METRICS-1")
    await eventually(lambda: status_is(stack, refund_id, student, "refunded"), "the refund", 60)
    await stack.client.get_workflow_handle(f"refund-{refund_id}").result()
    ran = {"workflow_type": "RefundWorkflow", "task_queue": stack.settings.task_queue}

    async def completed() -> float:
        return total(await scrape(metrics_url), "temporal_workflow_completed", **ran)

    assert await eventually(completed, "the worker to count the finished refund") == 1
    exposition = await scrape(metrics_url)
    assert total(exposition, "temporal_workflow_task_execution_latency_count", **ran) >= 3
    assert (
        total(exposition, "temporal_activity_execution_latency_count", activity_type="send_notice", **ran)
        >= 3
    )


def test_a_taken_metrics_port_stops_the_worker_with_a_message_naming_the_setting(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {
            "PATH": "/usr/bin:/bin",
            "AFTERCARE_DATA_DIR": str(tmp_path),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'aftercare.db'}",
            "AFTERCARE_WORKER_METRICS_ADDRESS": address,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # never reached: it stops before connecting
        }
        ran = subprocess.run(
            [sys.executable, "worker.py"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ran.returncode == 1
    assert f"cannot serve SDK metrics on '{address}' (AFTERCARE_WORKER_METRICS_ADDRESS)" in ran.stderr
    assert "Address already in use" in ran.stderr
