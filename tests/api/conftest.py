from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory
from devstack.dev_keys import ensure_dev_keys
from devstack.processes import free_port
from settings import Settings
from tests.api.complaint_stack import ComplaintStack, complaint_stack
from tests.temporal_env import start_time_skipping


@pytest.fixture(scope="module")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        jwt_secret="api-test-secret-0123456789abcdef0123456789",
        sandbox_gateway_port=free_port(),  # nothing listens there: outside services are unreachable
    )


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    """The API with Temporal unreachable: whatever these tests get back was decided without it.
    Both gateways are connected, with the dev keys (the sandbox's peers)."""
    ensure_dev_keys(settings.data_dir)
    saved = os.environ.get("TEMPORAL_ADDRESS")
    os.environ["TEMPORAL_ADDRESS"] = f"127.0.0.1:{free_port()}"
    try:
        with TestClient(create_app(settings)) as client:
            yield client
    finally:
        if saved is None:
            os.environ.pop("TEMPORAL_ADDRESS")
        else:
            os.environ["TEMPORAL_ADDRESS"] = saved


@pytest.fixture(scope="module")
def api_sessions(api: TestClient) -> SessionFactory:
    return api.app.state.sessions


@pytest_asyncio.fixture(scope="module")
async def temporal_test_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as env:
        yield env


@pytest_asyncio.fixture(scope="module")
async def stack(
    temporal_test_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ComplaintStack]:
    """The API with complaints that really run (tests/api/complaint_stack.py)."""
    async with complaint_stack(temporal_test_env, database_url, tmp_path_factory.mktemp("data")) as running:
        yield running
