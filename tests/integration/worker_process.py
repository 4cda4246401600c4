"""`worker.py` as its own process beside an integration test's stack."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from devstack.processes import WorkerProcess
from tests.integration.conftest import Stack


def worker_for_stack(
    stack: Stack, temporal: WorkflowEnvironment, *, metrics_address: str = ""
) -> WorkerProcess:
    return WorkerProcess(
        stack.settings,
        temporal_address=temporal.client.service_client.config.target_host,
        temporal_namespace=temporal.client.namespace,
        metrics_address=metrics_address,
    )
