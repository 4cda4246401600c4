"""The lead's SLA dashboard counted from the complaints projection, and the next deadline the
agent's queue counts down to."""

from __future__ import annotations

from datetime import timedelta

from api.services.sla_dashboard import DeadlineKind, DepartmentSla, next_deadline, sla_dashboard
from db.engine import SessionFactory
from domain.complaints import Department
from domain.roles import Role
from domain.timeutil import utcnow
from tests.factories import make_complaint, make_user


def test_open_complaints_per_department_with_breaches_and_what_is_due(sessions: SessionFactory) -> None:
    now = utcnow()
    student = make_user(sessions, Role.STUDENT)
    tech = {"department": Department.TECH_SUPPORT.value}
    # Unanswered: one overdue (and breached), one due in 20 minutes, one due in two hours.
    make_complaint(
        sessions, student, **tech, first_response_due_at=now - timedelta(minutes=5), sla_breached=True
    )
    make_complaint(sessions, student, **tech, first_response_due_at=now + timedelta(minutes=20))
    make_complaint(sessions, student, **tech, first_response_due_at=now + timedelta(hours=2))
    answered = {
        "first_response_due_at": now - timedelta(hours=3),
        "first_responded_at": now - timedelta(hours=3),
    }
    # Answered: the resolution is what counts — due in 30 minutes; and one paused (asked the student).
    make_complaint(
        sessions,
        student,
        stage="in_progress",
        **tech,
        **answered,
        resolution_due_at=now + timedelta(minutes=30),
    )
    make_complaint(
        sessions,
        student,
        stage="awaiting_customer",
        **tech,
        **answered,
        resolution_due_at=now + timedelta(minutes=10),
    )
    # Resolved ones are not open, whatever their deadlines said.
    make_complaint(
        sessions,
        student,
        stage="resolved",
        **tech,
        first_response_due_at=now - timedelta(hours=1),
        sla_breached=True,
    )
    academic = {"department": Department.ACADEMIC.value}
    make_complaint(sessions, student, stage="in_progress", **academic, **answered, sla_breached=True)
    make_complaint(sessions, student, stage="received")  # not routed yet: no department

    with sessions() as session:
        board = {row.department: row for row in sla_dashboard(session, now=now)}

    assert list(board) == [*Department, None]
    assert board[Department.TECH_SUPPORT] == DepartmentSla(
        Department.TECH_SUPPORT, open=5, breached=1, due_within_hour=2, first_response_overdue=1
    )
    assert board[Department.ACADEMIC] == DepartmentSla(
        Department.ACADEMIC, open=1, breached=1, due_within_hour=0, first_response_overdue=0
    )
    assert board[Department.CUSTOMER_SERVICE] == DepartmentSla(Department.CUSTOMER_SERVICE, 0, 0, 0, 0)
    assert board[None] == DepartmentSla(None, open=1, breached=0, due_within_hour=0, first_response_overdue=0)


def test_the_next_deadline_is_the_first_response_until_answered_then_the_resolution(
    sessions: SessionFactory,
) -> None:
    now = utcnow()
    student = make_user(sessions, Role.STUDENT)
    first_due, resolution_due = now - timedelta(minutes=1), now + timedelta(hours=2)
    deadlines = {"first_response_due_at": first_due, "resolution_due_at": resolution_due}

    unanswered = next_deadline(make_complaint(sessions, student, **deadlines))
    assert unanswered is not None and (unanswered.kind, unanswered.due_at) == (
        DeadlineKind.FIRST_RESPONSE,
        first_due,
    )
    assert unanswered.overdue(now)

    answered = make_complaint(sessions, student, stage="in_progress", first_responded_at=now, **deadlines)
    resolution = next_deadline(answered)
    assert resolution is not None and resolution.kind is DeadlineKind.RESOLUTION
    assert resolution.due_at == resolution_due and not resolution.overdue(now)

    paused = next_deadline(
        make_complaint(sessions, student, stage="awaiting_customer", first_responded_at=now)
    )
    assert (
        paused is not None
        and paused.kind is DeadlineKind.PAUSED
        and not paused.overdue(now + timedelta(days=9))
    )
    assert next_deadline(make_complaint(sessions, student, stage="resolved", **deadlines)) is None
