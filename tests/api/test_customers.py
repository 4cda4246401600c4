"""One customer's history: refunds, complaints and notices in one timeline, for staff and for the
student themselves (without staff notes)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from db.audit_log import append_event
from db.engine import SessionFactory
from db.models import AuditEvent, Complaint, Notification
from domain.roles import Role
from domain.timeutil import utcnow
from tests.api.helpers import auth
from tests.factories import make_order, make_refund, make_user


def test_staff_see_a_students_whole_story_and_the_student_their_own(
    api: TestClient, api_sessions: SessionFactory
) -> None:
    student = make_user(api_sessions, Role.STUDENT)
    refund = make_refund(api_sessions, make_order(api_sessions, student))
    start = utcnow() - timedelta(hours=3)
    complaint_id = f"CPHIST{student.id[-6:]}"
    with api_sessions() as session:
        session.add(
            Complaint(
                id=complaint_id,
                workflow_id=f"complaint-{complaint_id}",
                student_id=student.id,
                channel="phone",
                text="发票没开",
                logged_by="U-AGENT",
                stage="in_progress",
                received_at=start,
            )
        )
        for minutes, (case_type, case_id, event, note) in enumerate(
            [
                ("refund", refund.id, "refund.requested", "工作调动"),
                ("complaint", complaint_id, "complaint.received", "发票没开"),
                ("complaint", complaint_id, "agent.note", "财务说下周开"),
                ("complaint", complaint_id, "agent.replied", "已催财务"),
            ]
        ):
            append_event(
                session,
                AuditEvent(
                    event_key=f"{case_id}:{minutes}:{event}",
                    case_type=case_type,
                    case_id=case_id,
                    event=event,
                    actor="U-AGENT",
                    note=note,
                    at=start + timedelta(minutes=10 * minutes),
                ),
            )
        session.add(
            Notification(
                id=f"complaint-{complaint_id}:complaint_received:sms",
                case_type="complaint",
                case_id=complaint_id,
                event="complaint_received",
                channel="sms",
                recipient_user_id=student.id,
                locale="zh-CN",
                subject="反馈已收到",
                body_text="……",
                status="sent",
                created_at=start + timedelta(minutes=11),
                sent_at=start + timedelta(minutes=11),
            )
        )
        session.commit()

    url = f"/api/customers/{student.id}/history"
    staff = api.get(url, headers=auth(api, make_user(api_sessions, Role.AGENT))).json()
    assert (staff["refunds"], staff["complaints"]) == ([refund.id], [complaint_id])
    assert [(item["kind"], item["event"]) for item in staff["items"]] == [
        ("step", "refund.requested"),
        ("step", "complaint.received"),
        ("notice", "complaint_received"),
        ("step", "agent.note"),
        ("step", "agent.replied"),
    ]
    assert staff["items"][2]["text"] == "[sms] 反馈已收到"

    own = api.get(url, headers=auth(api, student)).json()
    assert "agent.note" not in [item["event"] for item in own["items"]]  # staff notes stay internal
    other = make_user(api_sessions, Role.STUDENT)
    assert api.get(url, headers=auth(api, other)).status_code == 404
    assert (
        api.get(
            "/api/customers/NOBODY/history", headers=auth(api, make_user(api_sessions, Role.LEAD))
        ).status_code
        == 404
    )
