"""One customer's whole story in one timeline — refunds, complaints (with staff notes) and every
notice sent — so nobody asks a student to repeat it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel
from sqlmodel import col, select

from api.deps import CurrentUser, SessionDep
from api.services.complaints import COMPLAINT_READERS
from db.models import AuditEvent, Complaint, Notification, Refund, User
from domain.roles import REFUND_READERS, Role

router = APIRouter(prefix="/api/customers", tags=["customers"])
HISTORY_READERS = REFUND_READERS | COMPLAINT_READERS


class HistoryItem(BaseModel):
    at: AwareDatetime
    case_type: Literal["refund", "complaint"]
    case_id: str
    kind: Literal["step", "notice"]
    event: str
    actor: str | None
    text: str  # the step's note, or the notice's subject and channel


class CustomerHistory(BaseModel):
    student_id: str
    name: str
    refunds: list[str]
    complaints: list[str]
    items: list[HistoryItem]  # oldest first


@router.get("/{student_id}/history", response_model=CustomerHistory)
def customer_history(student_id: str, session: SessionDep, user: CurrentUser) -> CustomerHistory:
    """Staff who handle refunds or complaints see anyone's; a student sees their own, without
    staff notes."""
    own = user.id == student_id
    if not own and Role(user.role) not in HISTORY_READERS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {student_id}")
    student = session.get(User, student_id)
    if student is None or student.role != Role.STUDENT.value:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {student_id}")
    refunds = list(session.exec(select(Refund.id).where(Refund.student_id == student_id)))
    complaints = list(session.exec(select(Complaint.id).where(Complaint.student_id == student_id)))
    steps = session.exec(
        select(AuditEvent).where(
            (col(AuditEvent.case_type) == "refund") & col(AuditEvent.case_id).in_(refunds)
            | (col(AuditEvent.case_type) == "complaint") & col(AuditEvent.case_id).in_(complaints)
        )
    ).all()
    notices = session.exec(select(Notification).where(Notification.recipient_user_id == student_id)).all()
    items = [
        HistoryItem(
            at=step.at,
            case_type=step.case_type,
            case_id=step.case_id,
            kind="step",  # type: ignore[arg-type]
            event=step.event,
            actor=step.actor,
            text=step.note,
        )
        for step in steps
        if not (user.role == Role.STUDENT.value and step.event == "agent.note")
    ] + [
        HistoryItem(
            at=notice.sent_at or notice.created_at,
            case_type=notice.case_type,  # type: ignore[arg-type]
            case_id=notice.case_id,
            kind="notice",
            event=notice.event,
            actor=None,
            text=f"[{notice.channel}] {notice.subject}",
        )
        for notice in notices
    ]
    items.sort(key=lambda item: (item.at, item.kind != "step"))
    return CustomerHistory(
        student_id=student.id, name=student.display_name, refunds=refunds, complaints=complaints, items=items
    )
