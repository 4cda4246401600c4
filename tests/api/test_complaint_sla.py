"""The complaint SLA table through the API, with Temporal unreachable: complaint staff read it,
only an admin edits it, bad terms are refused field by field and change nothing, and every edit is
audited with what it was before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, delete, select

from db.engine import SessionFactory
from db.models import AuditEvent, ComplaintSlaTermsRow
from db.sla_store import save_sla_terms
from domain.complaints import DEFAULT_SLA
from domain.roles import Role
from tests.api.helpers import auth
from tests.factories import make_user

URL = "/api/complaints/sla"
SLOWER = {
    "first_response_minutes": 45,
    "resolution_minutes": 300,
    "department": "academic",
    "business_hours_only": True,
}


@pytest.fixture(autouse=True)
def seeded_table(api_sessions: SessionFactory) -> Iterator[None]:
    """Each test leaves the table with the defaults (the database is the module's)."""
    yield
    with api_sessions() as session:
        session.exec(delete(ComplaintSlaTermsRow))
        for category, terms in DEFAULT_SLA.items():
            save_sla_terms(session, category, terms, by="migration")
        session.commit()


def _sla_audit(sessions: SessionFactory) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.case_type == "config", AuditEvent.event == "complaint_sla.terms_set")
                .order_by(col(AuditEvent.id))
            )
        )


def test_complaint_staff_read_the_table_and_nobody_else_does(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    for role in (Role.AGENT, Role.LEAD, Role.ADMIN):
        read = api.get(URL, headers=auth(api, make_user(api_sessions, role)))
        # Answered by this table, not taken for the complaint with the id "sla" (a 404).
        assert read.status_code == 200, (role, read.text)
        assert {
            row["category"]: (row["first_response_minutes"], row["resolution_minutes"], row["department"])
            for row in read.json()
        } == {
            "technical": (10, 120, "tech_support"),
            "course_content": (30, 1440, "academic"),
            "service_fees": (60, 2880, "customer_service"),
        }
        assert {row["business_hours_only"] for row in read.json()} == {False}
    for role in (Role.STUDENT, Role.REVIEWER, Role.FINANCE):
        assert api.get(URL, headers=auth(api, make_user(api_sessions, role))).status_code == 403
    assert api.get(URL).status_code == 401


def test_only_an_admin_edits_the_terms(api: TestClient, api_sessions: SessionFactory) -> None:
    audited = len(_sla_audit(api_sessions))
    for role in (Role.STUDENT, Role.REVIEWER, Role.FINANCE, Role.AGENT, Role.LEAD):
        headers = auth(api, make_user(api_sessions, role))
        assert api.put(f"{URL}/technical", json=SLOWER, headers=headers).status_code == 403, role
    with api_sessions() as session:
        technical = session.get(ComplaintSlaTermsRow, "technical")
        assert technical is not None and technical.first_response_minutes == 10
    assert len(_sla_audit(api_sessions)) == audited


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_response_minutes": 0}, "first_response_minutes"),
        (
            {"first_response_minutes": 7 * 24 * 60 + 1, "resolution_minutes": 60 * 24 * 60},
            "first_response_minutes",
        ),
        ({"first_response_minutes": 10.5}, "first_response_minutes"),
        ({"resolution_minutes": 44}, "resolution_minutes"),  # before the first response (45)
        ({"resolution_minutes": 60 * 24 * 60 + 1}, "resolution_minutes"),
        ({"resolution_minutes": None}, "resolution_minutes"),
        ({"department": "marketing"}, "department"),
        ({"business_hours_only": "sometimes"}, "business_hours_only"),
    ],
)
def test_bad_terms_are_refused_with_the_field_and_change_nothing(
    api: TestClient, api_sessions: SessionFactory, change: dict, field: str
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    audited = len(_sla_audit(api_sessions))
    refused = api.put(f"{URL}/technical", json={**SLOWER, **change}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert [error["loc"] for error in refused.json()["detail"]] == [["body", field]]
    with api_sessions() as session:
        technical = session.get(ComplaintSlaTermsRow, "technical")
        assert technical is not None and technical.first_response_minutes == 10
    assert len(_sla_audit(api_sessions)) == audited


def test_the_whole_terms_are_required_and_the_category_must_exist(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin = auth(api, make_user(api_sessions, Role.ADMIN))
    audited = len(_sla_audit(api_sessions))
    partial = {key: value for key, value in SLOWER.items() if key != "business_hours_only"}
    missing = api.put(f"{URL}/technical", json=partial, headers=admin)
    assert missing.status_code == 422
    assert [error["loc"] for error in missing.json()["detail"]] == [["body", "business_hours_only"]]
    unknown = api.put(f"{URL}/billing", json=SLOWER, headers=admin)
    assert unknown.status_code == 422
    assert [error["loc"] for error in unknown.json()["detail"]] == [["path", "category"]]
    assert len(_sla_audit(api_sessions)) == audited


def test_an_admins_edit_is_in_force_and_audited_with_before_and_after(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    admin_user = make_user(api_sessions, Role.ADMIN)
    admin = auth(api, admin_user)
    audited = len(_sla_audit(api_sessions))
    saved = api.put(f"{URL}/technical", json=SLOWER, headers=admin)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert {key: body[key] for key in SLOWER} == SLOWER
    assert (body["category"], body["updated_by"]) == ("technical", admin_user.id)
    assert body["updated_at"] is not None

    table = {row["category"]: row for row in api.get(URL, headers=admin).json()}
    assert {key: table["technical"][key] for key in SLOWER} == SLOWER
    assert table["service_fees"]["first_response_minutes"] == 60  # the other categories as they were

    # Equal deadlines are allowed: the first answer may be the resolution.
    same = {**SLOWER, "resolution_minutes": 45}
    assert api.put(f"{URL}/technical", json=same, headers=admin).status_code == 200

    first, second = _sla_audit(api_sessions)[audited:]
    assert (first.case_id, first.actor) == ("technical", admin_user.id)
    assert first.detail == {
        "before": {
            "first_response_minutes": 10,
            "resolution_minutes": 120,
            "department": "tech_support",
            "business_hours_only": False,
        },
        "after": SLOWER,
    }
    assert second.detail == {"before": SLOWER, "after": same}
