"""bench-scale's reading of every complaint's first-response breach from the audit trail: how long
after the due time the complaints table holds each breach was decided."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from bench.scale import FIRST_RESPONSE_BREACHED, breaches_decided
from db.audit_log import append_event
from db.engine import SessionFactory
from db.models import AuditEvent
from domain.roles import Role
from domain.timeutil import utcnow
from tests.factories import make_complaint, make_user


def test_each_breach_is_read_against_its_own_complaints_due_time(sessions: SessionFactory) -> None:
    student = make_user(sessions, Role.STUDENT)
    due = utcnow() - timedelta(minutes=10)
    late = {
        make_complaint(sessions, student, first_response_due_at=due).id: 0.5,
        make_complaint(sessions, student, first_response_due_at=due + timedelta(minutes=1)).id: 7.25,
    }
    with sessions() as session:
        for n, (complaint_id, seconds) in enumerate(late.items()):
            complaint_due = due + timedelta(minutes=n)
            for event, at in (
                ("sla.first_response.warning", complaint_due - timedelta(seconds=36)),  # not a breach
                (FIRST_RESPONSE_BREACHED, complaint_due + timedelta(seconds=seconds)),
            ):
                append_event(
                    session,
                    AuditEvent(
                        event_key=f"{complaint_id}:{event}",
                        case_type="complaint",
                        case_id=complaint_id,
                        event=event,
                        actor="system",
                        at=at,
                    ),
                )
        session.commit()
    read = breaches_decided(SimpleNamespace(sessions=sessions))  # type: ignore[arg-type]
    assert sorted(read.values) == [0.5, 7.25]  # the breaches only, each against its complaint's due
