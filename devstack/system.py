"""The whole system as separate processes on loopback, as `make dev` runs it, for tests that kill,
stop and restart its pieces, and for the benches: a file-backed Temporal dev server
(temporal-dev.yml's namespace, search attributes and pragmas), the sandbox gateway, the dev mailbox
(aiosmtpd), the API (uvicorn) and the worker (`worker.py`). Every port is a free one taken at the
start and kept across restarts, so a piece that comes back is found where it was."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from db.engine import SessionFactory, build_engine
from db.migrate import upgrade
from devstack.dev_keys import ensure_dev_keys
from devstack.processes import ServiceProcess, WorkerProcess, aftercare_env, free_port
from devstack.seed import seed
from devstack.temporal_dev_config import TemporalDevConfig, dev_config, venv_binary
from settings import Settings

STARTUP_SECONDS = 90  # on a busy 2-core machine a Python process takes seconds just to import


class TemporalDevServer(ServiceProcess):
    """`temporal server start-dev` on a database file: stopped and started again on the same file
    and port, it carries on with every workflow it had."""

    def __init__(self, data_dir: Path, config: TemporalDevConfig | None = None) -> None:
        """config: temporal-dev.yml's unless given (the bench tries other pragmas)."""
        config = config or dev_config()
        self.address = f"{config.ip}:{free_port()}"
        self.namespace = config.namespace
        self.db_file = data_dir / "temporal.db"
        args = config.start_dev_args(
            grpc_port=int(self.address.rpartition(":")[2]), db_file=self.db_file, headless=True
        )
        super().__init__(
            "temporal dev server",
            [str(venv_binary("temporal")), *args],
            env={k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
            log=data_dir / "temporal.log",
            port=int(self.address.rpartition(":")[2]),
        )

    async def serving(self, within_seconds: float = STARTUP_SECONDS) -> None:
        """Until the namespace answers: the port opens a little before the server is ready."""
        await self.until_listening(within_seconds)
        deadline = asyncio.get_running_loop().time() + within_seconds
        while True:
            try:
                client = await Client.connect(self.address, namespace=self.namespace)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
                return
            except (RuntimeError, RPCError):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{self.name} is not serving:\n{self.log_tail()}") from None
                await asyncio.sleep(0.5)


@dataclass
class System:
    settings: Settings
    sessions: SessionFactory
    temporal_server: TemporalDevServer
    temporal: Client
    gateway: ServiceProcess
    mailbox: ServiceProcess
    api_process: ServiceProcess
    worker: WorkerProcess
    api: httpx.AsyncClient
    sandbox: httpx.AsyncClient

    @property
    def maildir(self) -> Path:
        return self.settings.mailbox_dir

    def processes(self) -> list[ServiceProcess]:
        """Started first to last."""
        return [self.temporal_server, self.gateway, self.mailbox, self.api_process, self.worker]


@asynccontextmanager
async def running_system(
    data_dir: Path,
    database_url: str,
    temporal_config: TemporalDevConfig | None = None,
    **setting_overrides: Any,
) -> AsyncIterator[System]:
    """Migrate and seed the database, start every piece, and stop them all afterwards, whatever
    happened (last started first)."""
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        task_queue=f"resilience-{secrets.token_hex(4)}",
        api_port=free_port(),
        sandbox_gateway_port=free_port(),
        dev_mailbox_port=free_port(),
        jwt_secret="resilience-secret-0123456789abcdef0123456789abcdef",
        sandbox_callback_delay_seconds=0.5,
        sms_quiet_hours="",  # the suite runs at any hour
        complaint_follow_up_after_minutes=0,  # the survey at once: a test takes complaints to the archive
        **setting_overrides,
    )
    upgrade(database_url)
    engine = build_engine(database_url, **settings.database_engine_options)
    with Session(engine) as session:
        seed(session, settings.sandbox_base_url)
    ensure_dev_keys(data_dir)  # before any process reads them

    temporal_server = TemporalDevServer(data_dir, temporal_config)
    env = aftercare_env(
        settings, temporal_address=temporal_server.address, temporal_namespace=temporal_server.namespace
    )
    python = sys.executable
    gateway = ServiceProcess(
        "sandbox gateway",
        [python, "-m", "devstack.sandbox_gateway"],
        env=env,
        log=data_dir / "gateway.log",
        port=settings.sandbox_gateway_port,
    )
    mailbox = ServiceProcess(
        "dev mailbox",
        [python, "-m", "devstack.mailbox"],
        env=env,
        log=data_dir / "mailbox.log",
        port=settings.dev_mailbox_port,
    )
    api_process = ServiceProcess(
        "api",
        [python, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(settings.api_port), "--log-level", "warning"],
        env=env,
        log=data_dir / "api.log",
        port=settings.api_port,
    )  # fmt: skip
    worker = WorkerProcess(
        settings, temporal_address=temporal_server.address, temporal_namespace=temporal_server.namespace
    )
    started: list[ServiceProcess] = []
    try:
        for piece in (temporal_server, gateway, mailbox, api_process):
            piece.start()
            started.append(piece)
        await temporal_server.serving()
        for piece in (gateway, mailbox, api_process):
            await piece.until_listening(STARTUP_SECONDS)
        worker.start()
        started.append(worker)
        temporal = await Client.connect(
            temporal_server.address,
            namespace=temporal_server.namespace,
            data_converter=pydantic_data_converter,
        )
        async with AsyncExitStack() as clients:
            api = await clients.enter_async_context(
                # An idle connection is let go before uvicorn's 5 s keep-alive ends: reused just as
                # the server closes it, a request fails unanswered (ReadError) for no fault of ours.
                httpx.AsyncClient(
                    base_url=settings.callback_base_url, timeout=60, limits=httpx.Limits(keepalive_expiry=2)
                )
            )
            sandbox = await clients.enter_async_context(
                httpx.AsyncClient(base_url=settings.sandbox_base_url, timeout=30)
            )
            yield System(
                settings=settings,
                sessions=SessionFactory(engine),
                temporal_server=temporal_server,
                temporal=temporal,
                gateway=gateway,
                mailbox=mailbox,
                api_process=api_process,
                worker=worker,
                api=api,
                sandbox=sandbox,
            )
    finally:
        for piece in reversed(started):
            piece.stop()
        engine.dispose()
