from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import AuditEvent, User
from tests.factories import PASSWORD


def auth(api: TestClient, user: User) -> dict[str, str]:
    response = api.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit_trail(sessions: SessionFactory, case_type: str, case_id: str) -> list[AuditEvent]:
    """A case's audit events in chain order."""
    with sessions() as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.case_type == case_type, AuditEvent.case_id == case_id)
                .order_by(col(AuditEvent.seq))
            )
        )
