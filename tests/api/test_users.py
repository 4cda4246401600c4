"""Staff accounts kept by admins: created with a first password, role and queues changed, switched
off — each audited; students are not made here, and no admin can lock themselves out."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import AuditEvent, DepartmentMember
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user


def test_an_admin_creates_and_changes_staff_accounts(api: TestClient, api_sessions: SessionFactory) -> None:
    admin = make_user(api_sessions, Role.ADMIN)
    headers = auth(api, admin)
    email = f"new-agent-{secrets.token_hex(3)}@school.test"
    new = {"email": email, "display_name": "新客服", "role": "agent", "password": "a-long-first-password"}
    for bad in (
        {**new, "email": "not an address"},
        {**new, "password": "short"},
        {**new, "role": "student"},
        {**new, "display_name": ""},
    ):
        assert api.post("/api/users", json=bad, headers=headers).status_code == 422, bad
    created = api.post("/api/users", json=new, headers=headers)
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["role"], account["is_active"], account["departments"]) == ("agent", True, [])
    assert api.post("/api/users", json=new, headers=headers).status_code == 422  # the email is taken
    signed_in = api.post("/api/auth/token", data={"username": email, "password": "a-long-first-password"})
    assert signed_in.status_code == 200

    url = f"/api/users/{account['user_id']}"
    queues = api.patch(url, json={"departments": ["tech_support", "academic"]}, headers=headers)
    assert queues.json()["departments"] == ["academic", "tech_support"]
    with api_sessions() as session:
        rows = session.exec(
            select(DepartmentMember).where(DepartmentMember.user_id == account["user_id"])
        ).all()
        assert {row.department for row in rows} == {"tech_support", "academic"}
    switched_off = api.patch(url, json={"is_active": False, "role": "lead"}, headers=headers)
    assert (switched_off.json()["is_active"], switched_off.json()["role"]) == (False, "lead")
    refused = api.post("/api/auth/token", data={"username": email, "password": "a-long-first-password"})
    assert refused.status_code == 401  # an inactive account signs in no more
    with api_sessions() as session:
        audit = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == account["user_id"]).order_by(col(AuditEvent.id))
        ).all()
    assert [a.event for a in audit] == ["user.created", "user.changed", "user.changed"]
    assert audit[-1].detail["before"]["is_active"] is True and audit[-1].detail["after"]["role"] == "lead"


def test_no_one_else_keeps_accounts_and_no_admin_locks_themselves_out(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = make_user(api_sessions, Role.ADMIN)
    headers = auth(api, admin)
    for role in (Role.LEAD, Role.AGENT, Role.STUDENT):
        assert api.get("/api/users", headers=auth(api, make_user(api_sessions, role))).status_code == 403
    assert api.patch(f"/api/users/{admin.id}", json={"role": "lead"}, headers=headers).status_code == 409
    assert api.patch(f"/api/users/{admin.id}", json={"is_active": False}, headers=headers).status_code == 409
    student = make_user(api_sessions, Role.STUDENT)
    assert api.patch(f"/api/users/{student.id}", json={"role": "agent"}, headers=headers).status_code == 404
    listed = api.get("/api/users?role=admin", headers=headers).json()
    assert admin.id in [a["user_id"] for a in listed] and {a["role"] for a in listed} == {"admin"}
