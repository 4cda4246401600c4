"""What every case (a refund, a complaint) shows the same way: its audit timeline and its notices."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import AuditEvent, Notification, User
from domain.audit_trail import EVIDENCE_EVENTS
from domain.roles import Role


def case_timeline(
    *, session: Session, case_type: str, case_id: str, with_evidence: bool = False
) -> list[AuditEvent]:
    """The case's audit events in the order recorded (times come from several clocks). Its steps
    only, unless with_evidence: then also every notice's copy and every gateway exchange."""
    query = select(AuditEvent).where(AuditEvent.case_type == case_type, AuditEvent.case_id == case_id)
    if not with_evidence:
        query = query.where(col(AuditEvent.event).not_in(EVIDENCE_EVENTS))
    return list(session.exec(query.order_by(col(AuditEvent.seq))))


def case_notices(*, session: Session, case_type: str, case_id: str, user: User) -> list[Notification]:
    """What was sent about the case, oldest first: everything for staff, a student's own notices
    for the student."""
    query = select(Notification).where(Notification.case_type == case_type, Notification.case_id == case_id)
    if user.role == Role.STUDENT.value:
        query = query.where(Notification.recipient_user_id == user.id)
    return list(session.exec(query.order_by(col(Notification.created_at), col(Notification.id))))
