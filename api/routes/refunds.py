from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalDep, require_roles
from api.services import refunds as service
from db.models import AuditEvent, Refund, User
from domain.refunds import Decision, DecisionReceipt, RefundStatus, ReviewDecision, check_decision_reason
from domain.roles import REFUND_DECIDERS, Role

router = APIRouter(prefix="/api/refunds", tags=["refunds"])


class RefundIn(BaseModel):
    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class RefundAccepted(BaseModel):
    refund_id: str
    workflow_id: str
    status: RefundStatus


class TimelineItem(BaseModel):
    at: AwareDatetime
    event: str
    actor: str
    from_status: str | None
    to_status: str | None
    note: str


class RefundOut(BaseModel):
    refund_id: str
    workflow_id: str
    order_id: str
    student_id: str
    course_id: str
    course_name: str
    course_type: str
    gateway: str
    status: RefundStatus
    reason: str
    amount_paid_fen: int
    fee_fen: int
    refund_amount_fen: int
    decision_reason: str | None
    decided_by: str | None
    requested_at: AwareDatetime
    decided_at: AwareDatetime | None
    refunded_at: AwareDatetime | None

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(
            refund_id=refund.id,
            **refund.model_dump(exclude={"id", "active_order_id", "updated_at", "gateway_refund_id"}),
        )


class RefundDetail(RefundOut):
    timeline: list[TimelineItem]


class DecisionIn(BaseModel):
    decision: Decision
    reason: Annotated[str, Field(max_length=1000)] = ""

    @model_validator(mode="after")
    def _rejection_needs_reason(self) -> DecisionIn:
        check_decision_reason(self.decision, self.reason)
        return self


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=RefundAccepted)
async def request_refund(
    body: RefundIn,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    student: Annotated[User, Depends(require_roles(Role.STUDENT))],
) -> RefundAccepted:
    refund = await service.request_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        student=student,
        order_id=body.order_id,
        reason=body.reason,
    )
    return RefundAccepted(
        refund_id=refund.id, workflow_id=refund.workflow_id, status=RefundStatus(refund.status)
    )


@router.get("", response_model=list[RefundOut])
def list_refunds(
    session: SessionDep,
    user: CurrentUser,
    status_filter: Annotated[RefundStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RefundOut]:
    refunds = service.list_refunds(
        session=session, user=user, status_filter=status_filter, limit=limit, offset=offset
    )
    return [RefundOut.of(refund) for refund in refunds]


@router.get("/{refund_id}", response_model=RefundDetail)
def get_refund(refund_id: str, session: SessionDep, user: CurrentUser) -> RefundDetail:
    refund = service.readable_refund(session=session, user=user, refund_id=refund_id)
    events: list[AuditEvent] = service.refund_timeline(session=session, refund_id=refund.id)
    timeline = [TimelineItem.model_validate(event, from_attributes=True) for event in events]
    return RefundDetail(**RefundOut.of(refund).model_dump(), timeline=timeline)


@router.post("/{refund_id}/decision", response_model=DecisionReceipt)
async def decide_refund(
    refund_id: str,
    body: DecisionIn,
    session: SessionDep,
    temporal: TemporalDep,
    reviewer: Annotated[User, Depends(require_roles(*REFUND_DECIDERS))],
) -> DecisionReceipt:
    decision = ReviewDecision(
        decision=body.decision,
        reason=body.reason,
        reviewer_id=reviewer.id,
        reviewer_name=reviewer.display_name,
    )
    return await service.decide_refund(
        session=session, temporal=temporal, reviewer=reviewer, refund_id=refund_id, decision=decision
    )
