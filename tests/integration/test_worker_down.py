"""The API while Temporal runs but no worker does: requests are kept durably, decisions are not
left hanging, and an order locked by a request that never started is freed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory, build_engine
from db.models import Refund, User
from devstack.dev_keys import ensure_dev_keys
from devstack.processes import free_port
from domain.roles import Role
from domain.timeutil import utcnow
from settings import Settings
from tests.factories import PASSWORD, make_order, make_refund, make_user
from tests.http_server import serving
from tests.temporal_env import start_local_dev_server

pytestmark = pytest.mark.integration


@dataclass
class NoWorker:
    api: httpx.AsyncClient
    sessions: SessionFactory
    temporal: WorkflowEnvironment


@pytest_asyncio.fixture(scope="module")
async def no_worker(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NoWorker]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        task_queue=f"nobody-polls-{secrets.token_hex(4)}",
        temporal_call_timeout_seconds=1.5,
        jwt_secret="no-worker-secret-0123456789abcdef0123456789",
    )
    ensure_dev_keys(settings.data_dir)  # the gateways are connected; only the worker is missing
    engine = build_engine(database_url)
    async with await start_local_dev_server() as env:
        port = free_port()
        async with (
            serving(create_app(settings, temporal_client=env.client), port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as api,
        ):
            yield NoWorker(api, SessionFactory(engine), env)
    engine.dispose()


async def login(api: httpx.AsyncClient, user: User) -> dict[str, str]:
    token = (await api.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


async def test_a_request_is_accepted_and_kept_while_no_worker_runs(no_worker: NoWorker) -> None:
    student = make_user(no_worker.sessions, Role.STUDENT)
    order = make_order(no_worker.sessions, student)
    response = await no_worker.api.post(
        "/api/refunds",
        json={"order_id": order.id, "reason": "时间冲突"},
        headers=await login(no_worker.api, student),
    )
    assert response.status_code == 202, response.text
    described = await no_worker.temporal.client.get_workflow_handle(response.json()["workflow_id"]).describe()
    assert (
        described.status is not None and described.status.name == "RUNNING"
    )  # durable: it waits for a worker


async def test_a_decision_no_worker_can_take_gets_503_instead_of_hanging(no_worker: NoWorker) -> None:
    student = make_user(no_worker.sessions, Role.STUDENT)
    order = make_order(no_worker.sessions, student)
    created = await no_worker.api.post(
        "/api/refunds",
        json={"order_id": order.id, "reason": "时间冲突"},
        headers=await login(no_worker.api, student),
    )
    refund_id = created.json()["refund_id"]
    with no_worker.sessions() as session:  # as if the workflow had got as far as the review
        row = session.get(Refund, refund_id)
        assert row is not None
        row.status = "awaiting_review"
        session.add(row)
        session.commit()
    reviewer = await login(no_worker.api, make_user(no_worker.sessions, Role.LEAD))  # leads decide any refund
    decided = await no_worker.api.post(
        f"/api/refunds/{refund_id}/decision", json={"decision": "approve"}, headers=reviewer
    )
    assert decided.status_code == 503
    assert "did not confirm this in time" in decided.json()["detail"]


async def test_an_order_locked_by_a_request_that_never_started_is_freed(no_worker: NoWorker) -> None:
    """The API process died between saving a request and starting its workflow."""
    student = make_user(no_worker.sessions, Role.STUDENT)
    order = make_order(no_worker.sessions, student)
    orphan = make_refund(no_worker.sessions, order)  # `requested`, and no workflow exists for it
    with no_worker.sessions() as session:
        row = session.get(Refund, orphan.id)
        assert row is not None
        row.requested_at = utcnow() - timedelta(minutes=10)
        session.add(row)
        session.commit()
    response = await no_worker.api.post(
        "/api/refunds",
        json={"order_id": order.id, "reason": "再试一次"},
        headers=await login(no_worker.api, student),
    )
    assert response.status_code == 202, response.text
    assert response.json()["refund_id"] != orphan.id
    with no_worker.sessions() as session:
        assert session.get(Refund, orphan.id) is None


async def test_a_recent_request_still_locks_its_order(no_worker: NoWorker) -> None:
    student = make_user(no_worker.sessions, Role.STUDENT)
    order = make_order(no_worker.sessions, student)
    pending = make_refund(no_worker.sessions, order)  # just saved: its workflow may be starting now
    response = await no_worker.api.post(
        "/api/refunds",
        json={"order_id": order.id, "reason": "再试一次"},
        headers=await login(no_worker.api, student),
    )
    assert response.status_code == 409 and response.json()["detail"]["refund_id"] == pending.id
