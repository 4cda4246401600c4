"""The reports page: charts and tables from the same services as /api/reports, for the right roles,
and the leads' improvement actions kept from it."""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from db.engine import SessionFactory
from db.models import Complaint, ImprovementAction
from domain.roles import Role
from tests.api.test_console_pages import OURS, sign_in
from tests.factories import make_order, make_refund, make_user

JULY = datetime(2025, 7, 10, 2, tzinfo=UTC)
AUGUST = datetime(2025, 8, 10, 2, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def august(api_sessions: SessionFactory) -> None:
    """July: 2 technical complaints. August: 6 technical (a spike), one tagged twice alike; one
    refund asked for with reason 'course_quality'."""
    student = make_user(api_sessions, Role.STUDENT)
    with api_sessions() as session:
        for received, count in ((JULY, 2), (AUGUST, 6)):
            for n in range(count):
                complaint_id = f"CPT{secrets.token_hex(5).upper()}"
                session.add(
                    Complaint(
                        id=complaint_id,
                        workflow_id=f"complaint-{complaint_id}",
                        student_id=student.id,
                        channel="web_form",
                        text="直播卡顿",
                        logged_by=student.id,
                        stage="assigned",
                        category="technical",
                        root_cause="华为 P30 闪退" if received is AUGUST and n < 3 else None,
                        received_at=received,
                    )
                )
        session.commit()
    refund = make_refund(api_sessions, make_order(api_sessions, student))
    with api_sessions() as session:
        stored = session.get(type(refund), refund.id)
        assert stored is not None
        stored.requested_at, stored.reason_code = AUGUST, "course_quality"
        session.add(stored)
        session.commit()


def test_a_lead_sees_both_reports_with_charts_and_spikes(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    api.cookies.clear()
    sign_in(api, make_user(api_sessions, Role.LEAD).email or "")
    page = api.get("/reports", params={"month": "2025-08", "lang": "en"})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert 'data-testid="refund-report"' in text and 'data-testid="complaint-report"' in text
    # Four refund charts and the categories; no complaint here has a due time yet, so the two SLA
    # charts have nothing to draw and say only their titles.
    assert text.count("<svg") == 5
    assert '<p class="muted">First response in time (red below 90%)</p>' in text
    assert 'data-figure="requests">1<' in text
    assert "Not happy with the course's content or quality: 1" in text  # the reason-code bar's title
    assert "technical: 6, last month 2 (200.0%)" in text  # the category spike
    assert "“华为 P30 闪退”: 3" in text  # the repeated root cause
    assert 'href="/reports/complaints.csv?month=2025-08"' in text

    csv_file = api.get("/reports/complaints.csv", params={"month": "2025-08"})
    assert csv_file.status_code == 200 and csv_file.content.startswith("\ufeff".encode())
    assert api.get("/reports/refunds.csv", params={"month": "2025-8"}).status_code == 422


def test_finance_sees_the_refund_report_only_and_agents_none(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    api.cookies.clear()
    sign_in(api, make_user(api_sessions, Role.FINANCE).email or "")
    page = api.get("/reports", params={"month": "2025-08"})
    assert page.status_code == 200
    assert 'data-testid="refund-report"' in page.text and 'data-testid="complaint-report"' not in page.text
    assert api.get("/reports/complaints.csv", params={"month": "2025-08"}).status_code == 403
    api.cookies.clear()
    sign_in(api, make_user(api_sessions, Role.AGENT).email or "")
    assert api.get("/reports").status_code == 403
    api.cookies.clear()


def test_a_bad_month_is_explained_beside_its_field(api: TestClient, api_sessions: SessionFactory) -> None:
    api.cookies.clear()
    sign_in(api, make_user(api_sessions, Role.LEAD).email or "")
    page = api.get("/reports", params={"month": "2025-13"})
    assert page.status_code == 422 and 'id="month-error"' in page.text
    api.cookies.clear()


def test_a_lead_adds_an_improvement_action_and_moves_it_on(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    api.cookies.clear()
    sign_in(api, make_user(api_sessions, Role.LEAD).email or "")
    empty = api.post(
        "/reports/actions",
        data={"month": "2025-08", "category": "technical", "action": "  "},
        headers=OURS,
    )
    assert empty.status_code == 422 and 'id="action-action-error"' in empty.text
    added = api.post(
        "/reports/actions",
        data={
            "month": "2025-08",
            "category": "technical",
            "root_cause": "华为 P30 闪退",
            "action": "适配华为机型",
        },
        headers=OURS,
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/reports?month=2025-08#actions"
    with api_sessions() as session:
        [action] = session.exec(select(ImprovementAction).where(ImprovementAction.month == "2025-08")).all()
    assert (action.category, action.root_cause, action.status) == ("technical", "华为 P30 闪退", "planned")
    moved = api.post(
        f"/reports/actions/{action.id}",
        data={"month": "2025-08", "status": "done"},
        headers=OURS,
        follow_redirects=False,
    )
    assert moved.status_code == 303
    with api_sessions() as session:
        assert session.get(ImprovementAction, action.id).status == "done"  # type: ignore[union-attr]
    page = api.get("/reports", params={"month": "2025-08"}).text
    assert "适配华为机型" in page
    assert (
        api.post(
            f"/reports/actions/{action.id}", data={"month": "2025-08", "status": "x"}, headers=OURS
        ).status_code
        == 422
    )
    # An action number past a database integer was PostgreSQL's error (a 500): refused on the path.
    too_big = api.post(
        "/reports/actions/2147483648", data={"month": "2025-08", "status": "done"}, headers=OURS
    )
    assert too_big.status_code == 422
    api.cookies.clear()
