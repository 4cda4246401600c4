"""Leads tag a complaint's root cause for the monthly report: by the API and on the complaint's
page, audited on the complaint's own hash chain, hidden from the student, refused for other roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.services.audit import commit_audited
from db.audit_log import append_event, verify_case
from db.engine import SessionFactory
from db.models import AuditEvent, Complaint, User
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.helpers import audit_trail, auth
from tests.api.test_console_pages import OURS, sign_in
from tests.api.test_console_staff_pages import field_error
from tests.factories import make_complaint, make_user


@pytest.fixture(scope="module")
def lead(api_sessions: SessionFactory) -> User:
    return make_user(api_sessions, Role.LEAD, name="陈主管")


def received(sessions: SessionFactory, complaint: Complaint) -> None:
    """The workflow's first step, so the tag is not the chain's first link."""
    with sessions() as session:
        append_event(
            session,
            AuditEvent(
                event_key=f"complaint-{complaint.id}:0:complaint.received",
                case_type="complaint",
                case_id=complaint.id,
                event="complaint.received",
                actor=complaint.student_id,
                note=complaint.text,
                at=complaint.received_at,
            ),
        )
        session.commit()


def test_a_lead_tags_a_complaint_and_the_tag_is_on_its_audit_chain(
    api: TestClient, api_sessions: SessionFactory, lead: User
) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT), text="App 一打开就闪退")
    received(api_sessions, complaint)
    before = utcnow()
    tagged = api.put(
        f"/api/complaints/{complaint.id}/root-cause",
        json={"root_cause": "  huawei   P30 闪退 "},
        headers=auth(api, lead),
    )
    assert tagged.status_code == 200, tagged.text
    body = tagged.json()
    assert (body["complaint_id"], body["root_cause"], body["root_cause_by"]) == (
        complaint.id,
        "huawei P30 闪退",
        lead.id,
    )
    with api_sessions() as session:
        row = session.get(Complaint, complaint.id)
        assert row is not None and row.root_cause == "huawei P30 闪退" and row.root_cause_by == lead.id
        assert row.root_cause_at is not None and before <= row.root_cause_at <= utcnow()
        assert row.stage == complaint.stage  # not a workflow step: nothing else moved
        verdict = verify_case(session, "complaint", complaint.id)
    assert (verdict.events, verdict.broken) == (2, None)
    step = audit_trail(api_sessions, "complaint", complaint.id)[-1]
    assert (step.seq, step.event, step.actor, step.note) == (
        2,
        "complaint.root_cause_tagged",
        lead.id,
        "huawei P30 闪退",
    )
    assert step.event_key.startswith(f"complaint:{complaint.id}:root_cause:")
    assert step.detail == {"before": None, "after": "huawei P30 闪退"}

    # Re-tagging records the change; the same tag again (another spelling of it too) records nothing.
    headers = auth(api, lead)
    url = f"/api/complaints/{complaint.id}/root-cause"
    assert api.put(url, json={"root_cause": "Huawei P30 闪退"}, headers=headers).status_code == 200
    assert api.put(url, json={"root_cause": "Huawei P30  闪退 "}, headers=headers).status_code == 200
    assert [e.detail for e in audit_trail(api_sessions, "complaint", complaint.id)[1:]] == [
        {"before": None, "after": "huawei P30 闪退"},
        {"before": "huawei P30 闪退", "after": "Huawei P30 闪退"},
    ]

    cleared = api.put(url, json={"root_cause": None}, headers=headers)
    assert cleared.status_code == 200
    assert cleared.json() == {
        "complaint_id": complaint.id,
        "root_cause": None,
        "root_cause_by": None,
        "root_cause_at": None,
    }
    last = audit_trail(api_sessions, "complaint", complaint.id)[-1]
    assert (last.seq, last.event, last.note, last.detail) == (
        4,
        "complaint.root_cause_cleared",
        "",
        {"before": "Huawei P30 闪退", "after": None},
    )
    with api_sessions() as session:
        assert verify_case(session, "complaint", complaint.id).broken is None


def test_an_archived_complaint_can_be_tagged_by_an_admin_too(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT), stage="archived")
    admin = make_user(api_sessions, Role.ADMIN)
    tagged = api.put(
        f"/api/complaints/{complaint.id}/root-cause",
        json={"root_cause": "发票系统故障"},
        headers=auth(api, admin),
    )
    assert tagged.status_code == 200 and tagged.json()["root_cause"] == "发票系统故障"
    with api_sessions() as session:
        assert verify_case(session, "complaint", complaint.id).events == 1


def test_the_student_never_sees_the_tag(api: TestClient, api_sessions: SessionFactory, lead: User) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    complaint = make_complaint(api_sessions, student)
    received(api_sessions, complaint)
    api.put(
        f"/api/complaints/{complaint.id}/root-cause",
        json={"root_cause": "直播 CDN 故障"},
        headers=auth(api, lead),
    )
    mine = api.get(f"/api/complaints/{complaint.id}", headers=auth(api, student)).json()
    assert [step["event"] for step in mine["timeline"]] == ["complaint.received"]
    assert "直播 CDN 故障" not in str(mine)
    history = api.get(f"/api/customers/{student.id}/history", headers=auth(api, student)).json()
    assert "直播 CDN 故障" not in str(history)
    staff = api.get(f"/api/complaints/{complaint.id}", headers=auth(api, lead)).json()
    assert [step["event"] for step in staff["timeline"]] == [
        "complaint.received",
        "complaint.root_cause_tagged",
    ]
    staff_history = api.get(f"/api/customers/{student.id}/history", headers=auth(api, lead)).json()
    assert "直播 CDN 故障" in str(staff_history)


def test_refusals_change_nothing(api: TestClient, api_sessions: SessionFactory, lead: User) -> None:
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    url = f"/api/complaints/{complaint.id}/root-cause"
    for role in (Role.AGENT, Role.STUDENT, Role.REVIEWER, Role.FINANCE):
        refused = api.put(url, json={"root_cause": "x"}, headers=auth(api, make_user(api_sessions, role)))
        assert refused.status_code == 403, role
    assert api.put(url, json={"root_cause": "x"}).status_code == 401
    headers = auth(api, lead)
    unknown = api.put("/api/complaints/CPNOSUCH/root-cause", json={"root_cause": "x"}, headers=headers)
    assert unknown.status_code == 404
    for body, problem in (
        ({"root_cause": ""}, "at least one character"),
        ({"root_cause": "   "}, "at least one character"),
        ({"root_cause": "字" * 121}, "at most 120 characters"),
        ({"root_cause": "bad\x00tag"}, "control character"),
        ({"root_cause": 5}, "valid string"),
        ({}, "Field required"),  # forgetting it does not clear the tag
    ):
        answer = api.put(url, json=body, headers=headers)
        assert answer.status_code == 422, body
        [error] = answer.json()["detail"]
        assert error["loc"] == ["body", "root_cause"] and problem in error["msg"], error
    with api_sessions() as session:
        row = session.get(Complaint, complaint.id)
        assert row is not None and row.root_cause is None
        assert verify_case(session, "complaint", complaint.id).events == 0


def test_a_write_that_lost_its_place_in_the_chain_is_run_again(
    api_sessions: SessionFactory, lead: User
) -> None:
    """Another writer appends to the same chain between our read of its end and our commit."""
    if api_sessions.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL makes the second writer wait on the case's advisory lock: it cannot collide")
    complaint = make_complaint(api_sessions, make_user(api_sessions, Role.STUDENT))
    attempts: list[int] = []

    def step(key: str) -> AuditEvent:
        return AuditEvent(
            event_key=key,
            case_type="complaint",
            case_id=complaint.id,
            event="test.step",
            actor=lead.id,
            at=utcnow(),
        )

    with api_sessions() as session:

        def write() -> AuditEvent:
            ours = append_event(session, step(f"ours-{len(attempts)}"))
            if not attempts:
                received(api_sessions, complaint)  # the other writer commits first, in our place
            attempts.append(ours.seq)
            return ours

        written = commit_audited(session, write)
        assert attempts == [1, 2] and written.seq == 2
        verdict = verify_case(session, "complaint", complaint.id)
    assert (verdict.events, verdict.broken) == (2, None)


def test_a_lead_tags_on_the_complaints_page_and_an_agent_only_reads_it(
    api: TestClient, api_sessions: SessionFactory, lead: User
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    earlier = make_complaint(api_sessions, student, stage="archived")  # the same month: its tag is offered
    complaint = make_complaint(api_sessions, student, department="tech_support")
    api.put(
        f"/api/complaints/{earlier.id}/root-cause",
        json={"root_cause": "登录验证码收不到"},
        headers=auth(api, lead),
    )
    url = f"/complaints/{complaint.id}"
    sign_in(api, lead.email)
    try:
        page = api.get(url).text
        assert f'action="{url}/root-cause"' in page
        assert '<option value="登录验证码收不到"></option>' in page  # this month's tags, offered
        assert "尚未标注" in page

        taken = api.post(
            f"{url}/root-cause",
            data={"root_cause": " 登录验证码收不到 "},
            headers=OURS,
            follow_redirects=False,
        )
        assert (taken.status_code, taken.headers["location"]) == (303, f"{url}#root-cause")
        page = api.get(url).text
        assert "登录验证码收不到 <span" in page and "陈主管 标注于" in page
        assert 'value="登录验证码收不到"' in page.split('id="tag-root_cause"')[1].split(">")[0]

        empty = api.post(f"{url}/root-cause", data={"root_cause": "  "}, headers=OURS)
        assert empty.status_code == 422
        assert "at least one character" in field_error(empty.text, "tag-root_cause")
        too_long = api.post(f"{url}/root-cause", data={"root_cause": "长" * 121}, headers=OURS)
        assert too_long.status_code == 422 and f'value="{"长" * 121}"' in too_long.text  # typed, kept

        cleared = api.post(f"{url}/root-cause", data={"root_cause": "", "clear": "1"}, headers=OURS)
        assert cleared.status_code == 200  # followed the redirect
        assert "尚未标注" in cleared.text
        with api_sessions() as session:
            row = session.get(Complaint, complaint.id)
            assert row is not None and row.root_cause is None
        assert (
            api.post("/complaints/CPNOSUCH/root-cause", data={"root_cause": "x"}, headers=OURS).status_code
            == 404
        )
        english = api.get(f"{url}?lang=en").text
        assert "Not tagged yet" in english and "Save the tag" in english
        api.get(f"{url}?lang=zh-CN")
    finally:
        api.cookies.clear()

    agent = make_user(api_sessions, Role.AGENT)
    sign_in(api, agent.email)
    try:
        page = api.get(f"/complaints/{earlier.id}").text
        assert "登录验证码收不到" in page and 'action="/complaints/' + earlier.id + '/root-cause"' not in page
        refused = api.post(f"/complaints/{earlier.id}/root-cause", data={"root_cause": "别的"}, headers=OURS)
        assert refused.status_code == 403
    finally:
        api.cookies.clear()
    with api_sessions() as session:
        row = session.get(Complaint, earlier.id)
        assert row is not None and row.root_cause == "登录验证码收不到"
