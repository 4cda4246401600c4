"""Complaint routes' refusals. Temporal is unreachable here, so each answer was decided before the
workflow service was involved — and the 503 shows a complaint that could not start leaves nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from db.engine import SessionFactory
from db.models import Complaint
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.helpers import auth
from tests.factories import make_user


def _complaint(sessions: SessionFactory, student_id: str, complaint_id: str) -> None:
    with sessions() as session:
        session.add(
            Complaint(
                id=complaint_id,
                workflow_id=f"complaint-{complaint_id}",
                student_id=student_id,
                channel="web_form",
                text="直播卡顿",
                logged_by=student_id,
                stage="assigned",
                received_at=utcnow(),
            )
        )
        session.commit()


def test_when_temporal_is_down_a_complaint_is_refused_and_leaves_nothing(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    filed = api.post("/api/complaints", headers=auth(api, student), json={"text": "视频一直无法播放"})
    assert filed.status_code == 503
    with api_sessions() as session:
        assert session.exec(select(Complaint).where(Complaint.student_id == student.id)).all() == []


def test_students_see_their_own_complaints_and_staff_act_by_role(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    owner, other = make_user(api_sessions, Role.STUDENT), make_user(api_sessions, Role.STUDENT)
    _complaint(api_sessions, owner.id, "CPAPI0001")
    assert api.get("/api/complaints/CPAPI0001", headers=auth(api, owner)).status_code == 200
    assert api.get("/api/complaints/CPAPI0001", headers=auth(api, other)).status_code == 404
    assert api.get("/api/complaints", headers=auth(api, other)).json() == []
    assert (
        api.get("/api/complaints", headers=auth(api, make_user(api_sessions, Role.FINANCE))).status_code
        == 403
    )
    reply = {"text": "您好"}
    for role in (Role.STUDENT, Role.REVIEWER, Role.FINANCE):
        headers = auth(api, make_user(api_sessions, role))
        assert api.post("/api/complaints/CPAPI0001/responses", json=reply, headers=headers).status_code == 403
    agent = auth(api, make_user(api_sessions, Role.AGENT))
    assert (
        api.post(
            "/api/complaints/CPAPI0001/resolution", json={"code": "magic", "summary": "x"}, headers=agent
        ).status_code
        == 422
    )
    assert (
        api.post("/api/complaints/CPAPI0001/responses", json={"text": ""}, headers=agent).status_code == 422
    )
    assert api.post("/api/complaints/CP-NOPE/responses", json=reply, headers=agent).status_code == 404
    survey = api.post("/api/complaints/CPAPI0001/survey", json={"satisfied": True}, headers=auth(api, other))
    assert survey.status_code == 404  # not their complaint
