"""`worker.py` as its own process, configured like the stack it serves: a test can kill it for real,
or scrape the SDK metrics a real worker process serves."""

from __future__ import annotations

import sys

from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.integration.conftest import Stack
from tests.processes import ServiceProcess, aftercare_env


class WorkerProcess(ServiceProcess):
    def __init__(
        self, settings: Settings, *, temporal_address: str, temporal_namespace: str, metrics_address: str = ""
    ) -> None:
        """metrics_address: where it serves SDK metrics; "" (off) unless a test scrapes them, so
        no test takes the default port a developer's `make dev` is using."""
        env = aftercare_env(
            settings, temporal_address=temporal_address, temporal_namespace=temporal_namespace
        )
        env["AFTERCARE_WORKER_METRICS_ADDRESS"] = metrics_address
        super().__init__(
            "worker", [sys.executable, "worker.py"], env=env, log=settings.data_dir / "worker.log"
        )

    @classmethod
    def for_stack(
        cls, stack: Stack, temporal: WorkflowEnvironment, *, metrics_address: str = ""
    ) -> WorkerProcess:
        return cls(
            stack.settings,
            temporal_address=temporal.client.service_client.config.target_host,
            temporal_namespace=temporal.client.namespace,
            metrics_address=metrics_address,
        )
