"""`worker.py` as its own process, configured like the stack it serves: a test can kill it for real,
or scrape the SDK metrics a real worker process serves."""

from __future__ import annotations

import os
import subprocess
import sys

from temporalio.testing import WorkflowEnvironment

from settings import PROJECT_ROOT
from tests.integration.conftest import Stack


class WorkerProcess:
    def __init__(self, stack: Stack, temporal: WorkflowEnvironment, *, metrics_address: str = "") -> None:
        """metrics_address: where it serves SDK metrics; "" (off) unless a test scrapes them, so
        no test takes the default port a developer's `make dev` is using."""
        settings = stack.settings
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AFTERCARE_", "TEMPORAL_"))},
            "AFTERCARE_DATABASE_URL": settings.database_url,
            "AFTERCARE_DATA_DIR": str(settings.data_dir),
            "AFTERCARE_TASK_QUEUE": settings.task_queue,
            "AFTERCARE_API_PORT": str(settings.api_port),
            "AFTERCARE_SANDBOX_GATEWAY_PORT": str(settings.sandbox_gateway_port),
            "AFTERCARE_DEV_MAILBOX_PORT": str(settings.dev_mailbox_port),
            "AFTERCARE_WORKER_METRICS_ADDRESS": metrics_address,
            "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": temporal.client.namespace,
        }
        self.log = settings.data_dir / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no goodbye, no completing what it was doing
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
