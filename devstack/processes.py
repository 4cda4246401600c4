"""Pieces of the system as their own processes, for tests that kill, stop and restart them for real
and for the benches: the worker, the API, the dev mailbox, the sandbox gateway, the Temporal dev
server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.run import die_with_parent
from settings import PROJECT_ROOT, Settings

STOP_TIMEOUT_SECONDS = 15.0


def aftercare_env(settings: Settings, *, temporal_address: str, temporal_namespace: str) -> dict[str, str]:
    """The environment a process of ours needs to join the system `settings` describes (and nothing
    of the developer's own AFTERCARE_* / TEMPORAL_* setup)."""
    unless_default = {
        "AFTERCARE_DATABASE_SQLITE_JOURNAL_MODE": settings.database_sqlite_journal_mode,
        "AFTERCARE_DATABASE_SQLITE_SYNCHRONOUS": settings.database_sqlite_synchronous,
    }
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AFTERCARE_", "TEMPORAL_"))},
        "AFTERCARE_DATABASE_URL": settings.database_url,
        "AFTERCARE_DATA_DIR": str(settings.data_dir),
        "AFTERCARE_TASK_QUEUE": settings.task_queue,
        "AFTERCARE_API_PORT": str(settings.api_port),
        "AFTERCARE_SANDBOX_GATEWAY_PORT": str(settings.sandbox_gateway_port),
        "AFTERCARE_SANDBOX_CALLBACK_DELAY_SECONDS": str(settings.sandbox_callback_delay_seconds),
        "AFTERCARE_DEV_MAILBOX_PORT": str(settings.dev_mailbox_port),
        "AFTERCARE_SMS_QUIET_HOURS": settings.sms_quiet_hours,
        "AFTERCARE_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "AFTERCARE_TEMPORAL_CALL_TIMEOUT_SECONDS": str(settings.temporal_call_timeout_seconds),
        "AFTERCARE_COMPLAINT_FOLLOW_UP_AFTER_MINUTES": str(settings.complaint_follow_up_after_minutes),
        "AFTERCARE_WORKER_METRICS_ADDRESS": "",  # no test takes the port a developer's make dev uses
        "AFTERCARE_DATABASE_POOL_SIZE": str(settings.database_pool_size),
        "AFTERCARE_DATABASE_MAX_OVERFLOW": str(settings.database_max_overflow),
        "AFTERCARE_WORKER_ACTIVITY_SLOTS": str(settings.worker_activity_slots),
        "AFTERCARE_WORKER_MAX_CACHED_WORKFLOWS": str(settings.worker_max_cached_workflows),
        "AFTERCARE_WORKER_WORKFLOW_TASK_SLOTS": str(settings.worker_workflow_task_slots),
        "AFTERCARE_WORKER_WORKFLOW_POLLERS": str(settings.worker_workflow_pollers),
        "AFTERCARE_WORKER_ACTIVITY_POLLERS": str(settings.worker_activity_pollers),
        "AFTERCARE_WORKER_SANDBOX_PASSTHROUGH": str(settings.worker_sandbox_passthrough).lower(),
        **{name: value for name, value in unless_default.items() if value is not None},
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": temporal_namespace,
        "PYTHONUNBUFFERED": "1",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class ServiceProcess:
    """One process, its output appended to `log`. start() spawns it (from the calling thread: the
    child gets SIGTERM when that thread ends, so call it from the test's main thread), kill() is
    SIGKILL, stop() is SIGTERM and then SIGKILL if it lingers. With `port`, started() waits until
    something answers there, and fails with the log's tail if the process dies first."""

    def __init__(
        self, name: str, args: Sequence[str], *, env: dict[str, str], log: Path, port: int | None = None
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = env
        self.log = log
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        """The current process's id (a restarted piece has a new one)."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # a test run killed outright leaves nothing behind
            )

    async def started(self, within_seconds: float = 60) -> None:
        """start(), then wait until the port answers."""
        self.start()
        await self.until_listening(within_seconds)

    async def until_listening(self, within_seconds: float = 60) -> None:
        assert self.port is not None
        deadline = asyncio.get_running_loop().time() + within_seconds
        while not port_open(self.port):
            if not self.running:
                raise AssertionError(
                    f"{self.name} exited before listening on {self.port}:\n{self.log_tail()}"
                )
            if asyncio.get_running_loop().time() > deadline:
                waited = f"{within_seconds:.0f}s"
                raise AssertionError(
                    f"{self.name} did not listen on {self.port} within {waited}:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no finishing what it was doing."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return "(no output)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class WorkerProcess(ServiceProcess):
    """`worker.py` as its own process, configured like the system it serves: killed for real, or
    scraped for the SDK metrics a real worker process serves."""

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
