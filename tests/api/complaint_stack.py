"""The API with complaints that really run: a Temporal test server, a worker with ComplaintWorkflow
and the real complaint activities (projection, audit, assignment) on the test database, and fakes
for what goes outside (notices, webhooks) — served over HTTP in the test's event loop.

The test server skips time only while a client waits on a workflow's result, which nothing here
does: the complaints' SLA timers run on the clock and never fire during a test."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.compensation import CompensationActivities
from activities.complaints import ComplaintActivities
from api.app import create_app
from db.engine import SessionFactory, build_engine
from db.models import AuditEvent, Complaint, IntakeMessage, User
from devstack.dev_keys import ensure_dev_keys
from devstack.processes import free_port
from settings import Settings
from tests.http_server import serving
from tests.workflows.refund_fakes import FakeActivities
from worker import workflow_runner
from workflows.complaint import ComplaintWorkflow

REAL = {"record_complaint_event", "assign_complaint"}


@dataclass
class ComplaintStack:
    api: httpx.AsyncClient
    sessions: SessionFactory
    settings: Settings
    fakes: FakeActivities

    def complaints_of(self, student_id: str) -> list[Complaint]:
        with self.sessions() as session:
            return list(session.exec(select(Complaint).where(Complaint.student_id == student_id)))

    def steps_of(self, complaint_id: str) -> list[AuditEvent]:
        with self.sessions() as session:
            return list(
                session.exec(
                    select(AuditEvent)
                    .where(AuditEvent.case_type == "complaint", AuditEvent.case_id == complaint_id)
                    .order_by(AuditEvent.id)  # type: ignore[arg-type]
                )
            )

    def user(self, **match: Any) -> User | None:
        with self.sessions() as session:
            query = select(User)
            for column, value in match.items():
                query = query.where(getattr(User, column) == value)
            return session.exec(query).first()

    def counts(self) -> tuple[int, int, int]:
        """Users, complaints, deliveries taken: what a refused request must leave as it was. (Audit
        events are not counted: complaints of earlier tests are still recording their steps.)"""
        with self.sessions() as session:
            return (
                len(session.exec(select(User.id)).all()),
                len(session.exec(select(Complaint.id)).all()),
                len(session.exec(select(IntakeMessage.id)).all()),
            )


async def eventually(probe: Callable[[], Any | Awaitable[Any]], what: str, within_seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def stage_of(stack: ComplaintStack, complaint_id: str) -> str | None:
    with stack.sessions() as session:
        complaint = session.get(Complaint, complaint_id)
        return complaint.stage if complaint else None


@asynccontextmanager
async def complaint_stack(
    env: WorkflowEnvironment,
    database_url: str,
    data_dir: Path,
    *,
    real_ledger: bool = False,
    **setting_overrides: Any,
) -> AsyncIterator[ComplaintStack]:
    """real_ledger: compensation offers are booked by the real ledger (db/compensation_ledger.py),
    and only giving them (the commerce system's part) is faked."""
    api_port = free_port()
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        task_queue=f"api-complaints-{secrets.token_hex(4)}",
        api_port=api_port,
        jwt_secret="api-test-secret-0123456789abcdef0123456789",
        sandbox_gateway_port=free_port(),  # nothing listens there
        **setting_overrides,
    )
    ensure_dev_keys(data_dir)
    engine = build_engine(database_url)
    sessions = SessionFactory(engine)
    fakes = FakeActivities()
    real = ComplaintActivities(sessions)
    ledger = CompensationActivities(sessions, hook=None)
    booked = [ledger.reserve_compensation, ledger.settle_compensation] if real_ledger else []
    real_names = REAL | {activity.__name__ for activity in booked}
    outside = [fake for fake in fakes.definitions() if fake.__name__ not in real_names]
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with (
            Worker(
                env.client,
                task_queue=settings.task_queue,
                workflows=[ComplaintWorkflow],
                activities=[real.record_complaint_event, real.assign_complaint, *booked, *outside],
                activity_executor=executor,
                workflow_runner=workflow_runner(),
            ),
            serving(create_app(settings, temporal_client=env.client), api_port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as api,
        ):
            yield ComplaintStack(api, sessions, settings, fakes)
    engine.dispose()


async def login(api: httpx.AsyncClient, user: User) -> dict[str, str]:
    from tests.factories import PASSWORD

    response = await api.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
