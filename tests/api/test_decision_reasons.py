"""The common decision reasons: seeded by the migration, read by reviewers, kept by admins (audited);
a switched-off reason is no longer offered on the review page."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient
from sqlmodel import select

from api.pages.session import SESSION_COOKIE
from db.engine import SessionFactory
from db.models import AuditEvent
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user


def test_reviewers_read_the_list_and_admins_keep_it(api: TestClient, api_sessions: SessionFactory) -> None:
    reviewer = auth(api, make_user(api_sessions, Role.REVIEWER))
    listed = api.get("/api/decision-reasons", headers=reviewer).json()
    assert {"符合退款政策", "已超过退款期限"} <= {r["text"] for r in listed}
    assert (
        api.get("/api/decision-reasons", headers=auth(api, make_user(api_sessions, Role.STUDENT))).status_code
        == 403
    )
    assert (
        api.post(
            "/api/decision-reasons", json={"decision": "reject", "text": "x"}, headers=reviewer
        ).status_code
        == 403
    )

    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    text = f"课程未按时开课 {secrets.token_hex(2)}"
    for bad in ({"decision": "maybe", "text": text}, {"decision": "approve", "text": ""}):
        assert api.post("/api/decision-reasons", json=bad, headers=admin).status_code == 422
    added = api.post("/api/decision-reasons", json={"decision": "approve", "text": text}, headers=admin)
    assert added.status_code == 201 and added.json()["is_active"]
    again = api.post("/api/decision-reasons", json={"decision": "approve", "text": text}, headers=admin)
    assert again.status_code == 422  # in the list already
    reason_id = added.json()["id"]
    off = api.patch(f"/api/decision-reasons/{reason_id}", json={"is_active": False}, headers=admin)
    assert off.json()["is_active"] is False
    assert text not in [r["text"] for r in api.get("/api/decision-reasons", headers=reviewer).json()]
    every = api.get("/api/decision-reasons?include_inactive=true", headers=admin).json()
    assert text in [r["text"] for r in every]
    assert (
        api.patch("/api/decision-reasons/999999", json={"is_active": True}, headers=admin).status_code == 404
    )
    with api_sessions() as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.case_id == str(reason_id))).all()
    assert [a.event for a in audit] == ["decision_reason.added", "decision_reason.changed"]


def test_a_reason_number_past_a_database_integer_is_refused_on_the_path_never_a_500(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    """Found by the fuzzer on PostgreSQL: 2147483648 was its "integer out of range" (a 500), and past
    2**63 SQLite's overflow. No reason has such a number: it is refused as the bad input it is, in the
    API and on the admins' console page alike."""
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    cookie = {
        "Cookie": f"{SESSION_COOKIE}={admin['Authorization'].split()[1]}",
        "Origin": "http://testserver",
    }
    for number in ("2147483648", "9223372036854775808", "99999999999999999999", "0"):
        answer = api.patch(f"/api/decision-reasons/{number}", json={"is_active": True}, headers=admin)
        assert answer.status_code == 422, (number, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["path", "reason_id"]
        page = api.post(f"/admin/reasons/{number}", data={"is_active": "on"}, headers=cookie)
        assert page.status_code == 422, (number, page.text)
    assert (
        api.patch("/api/decision-reasons/2147483647", json={"is_active": True}, headers=admin).status_code
        == 404
    )
