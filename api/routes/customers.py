"""One customer's whole story in one timeline — refunds, complaints (with staff notes) and every
notice sent — so nobody asks a student to repeat it; finding a customer by any identifier; and
merging two records of one customer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, SessionDep, require_roles
from api.errors import field_error, refusals
from api.services.complaints import COMPLAINT_HANDLERS, COMPLAINT_READERS
from api.services.customer_merge import MergeOutcome, merge_customers
from api.services.customers import NotACustomer, current_record, customer_ids, resolve_customer
from db.models import AuditEvent, Complaint, Notification, Refund, User
from domain.audit_trail import EVIDENCE_EVENTS
from domain.complaints import INTERNAL_EVENTS
from domain.customers import CustomerRef
from domain.roles import REFUND_READERS, Role
from domain.text import NO_CONTROL_CHARACTERS

router = APIRouter(prefix="/api/customers", tags=["customers"], responses=refusals(401))
HISTORY_READERS = REFUND_READERS | COMPLAINT_READERS
Staff = Annotated[User, Depends(require_roles(*COMPLAINT_HANDLERS))]


class HistoryItem(BaseModel):
    at: AwareDatetime
    case_type: Literal["refund", "complaint", "customer"]
    case_id: str
    kind: Literal["step", "notice"]
    event: str
    actor: str | None
    text: str  # the step's note, or the notice's subject and channel


class CustomerHistory(BaseModel):
    student_id: str  # the customer now: another id than asked for when that record was merged
    name: str
    merged_records: list[str]  # records merged into this one, whose history is part of this
    refunds: list[str]
    complaints: list[str]
    items: list[HistoryItem]  # oldest first


@router.get("/{student_id}/history", response_model=CustomerHistory, responses=refusals(404))
def customer_history(student_id: str, session: SessionDep, user: CurrentUser) -> CustomerHistory:
    """Staff who handle refunds or complaints see anyone's; a student sees their own, without
    staff notes."""
    staff = Role(user.role) in HISTORY_READERS
    record = session.get(User, student_id)
    if record is None or record.role != Role.STUDENT.value:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {student_id}")
    student = current_record(session, record)  # a merged record's story is its survivor's
    if not staff and student.id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {student_id}")
    ids = customer_ids(session, student.id)
    refunds = list(session.exec(select(Refund.id).where(col(Refund.student_id).in_(ids))))
    complaints = list(session.exec(select(Complaint.id).where(col(Complaint.student_id).in_(ids))))
    steps = session.exec(
        select(AuditEvent).where(
            (col(AuditEvent.case_type) == "refund") & col(AuditEvent.case_id).in_(refunds)
            | (col(AuditEvent.case_type) == "complaint") & col(AuditEvent.case_id).in_(complaints)
            | (col(AuditEvent.case_type) == "customer") & col(AuditEvent.case_id).in_(ids),
            col(AuditEvent.event).not_in(EVIDENCE_EVENTS),  # notices are listed from their own rows
        )
    ).all()
    notices = session.exec(select(Notification).where(col(Notification.recipient_user_id).in_(ids))).all()
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
        if not (user.role == Role.STUDENT.value and step.event in INTERNAL_EVENTS)
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
        student_id=student.id,
        name=student.display_name,
        merged_records=ids[1:],
        refunds=refunds,
        complaints=complaints,
        items=items,
    )


class MergeIn(BaseModel):
    merged_id: str = Field(min_length=1, max_length=64)  # the record that goes into this one


@router.post(
    "/{student_id}/merge",
    response_model=MergeOutcome,
    responses=refusals(
        403, 404, 409, meanings={409: "not a customer's record, merged already, or changed while merging"}
    ),
)
async def merge(student_id: str, body: MergeIn, session: SessionDep, agent: Staff) -> MergeOutcome:
    """Another record of the same customer goes into this one: its cases, orders and notices, and
    the identifiers this one lacks. The other record is deactivated and points here from now on."""
    return await run_in_threadpool(
        lambda: merge_customers(session, survivor_id=student_id, merged_id=body.merged_id, by=agent)
    )


class LookupIn(BaseModel):
    customer: CustomerRef
    # The name for a new record.
    name: Annotated[str, Field(min_length=1, max_length=100), NO_CONTROL_CHARACTERS] | None = None


class CustomerOut(BaseModel):
    student_id: str
    name: str
    created: bool  # nobody matched: a new record was made for this contact


@router.post(
    "/lookup",
    response_model=CustomerOut,
    responses=refusals(
        403, 404, meanings={404: "no student of that student id (other identifiers make one)"}
    ),
)
async def lookup(body: LookupIn, session: SessionDep, _agent: Staff) -> CustomerOut:
    """The customer behind a phone number, address or openid (created when nobody matches): what an
    agent on the hotline does before logging the call for that student id."""
    try:
        customer, created = await run_in_threadpool(resolve_customer, session, body.customer, name=body.name)
    except NotACustomer as exc:
        raise field_error("customer", str(exc)) from exc
    return CustomerOut(student_id=customer.id, name=customer.display_name, created=created)
