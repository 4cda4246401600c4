from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field, StrictInt, model_validator

from api.deps import CurrentUser, PageLimit, PageOffset, SessionDep, SettingsDep, TemporalDep, require_roles
from api.errors import refusals
from api.routes.case_views import NoticeSent, TimelineItem, case_history
from api.services import refunds as service
from api.services.workflow_calls import query_case
from db.models import Refund, User
from domain.courses import CourseType
from domain.notifications import Channel
from domain.policy import Eligibility, IneligibleReason, RefundPolicy, RefundQuote, reason_text
from domain.refund_reasons import RefundReasonCode
from domain.refunds import (
    ConfirmationOutcome,
    Decision,
    DecisionReceipt,
    ManagerConfirmation,
    RefundProgress,
    RefundStatus,
    ReviewDecision,
    TimelineEntry,
    check_decision_reason,
    refund_workflow_id,
)
from domain.roles import REFUND_CONFIRMERS, REFUND_DECIDERS, REFUND_READERS, Role
from domain.text import NO_CONTROL_CHARACTERS
from workflows.refund import RefundWorkflow

router = APIRouter(prefix="/api/refunds", tags=["refunds"], responses=refusals(401))
# An order the student does not have is 404; a policy missing for its course type, 503.
JUDGING_REFUSALS = refusals(403, 404, 503, meanings={404: "the student has no such order"})
# A refund's workflow update: 404 for one the caller may not see, 403 for one of another reviewer
# group's, 409 when it is not in the state the update is for, 503 when no worker answers.
UPDATE_REFUSALS = refusals(403, 404, 409, 503)
# An action the workflow took but had not recorded when the API stopped waiting (a backlog).
BEING_RECORDED = {
    202: {
        "model": DecisionReceipt,
        "description": "taken, and being recorded behind a backlog of work: `status` is still the one "
        "before (`being_recorded` is true); the same request sent again answers with the settled status",
    }
}


def receipt_answer(receipt: DecisionReceipt, response: Response) -> DecisionReceipt:
    if receipt.being_recorded:
        response.status_code = status.HTTP_202_ACCEPTED
    return receipt


class RefundInProgress(BaseModel):
    message: str
    refund_id: str  # the refund already running for the order


class RefundConflict(BaseModel):
    detail: str | RefundInProgress


REFUND_CONFLICT = {
    409: {
        "model": RefundConflict,
        "description": "the order has a refund in progress (the detail names it, to follow it), is "
        "refunded in full, or was paid through a gateway not connected here",
    }
}


class QuoteIn(BaseModel):
    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    # Part of what was paid to get back, in fen; omit it to ask for all that is left.
    amount_fen: Annotated[StrictInt, Field(gt=0)] | None = None


class RefundIn(QuoteIn):
    reason: Annotated[str, Field(min_length=1, max_length=2000), NO_CONTROL_CHARACTERS]
    # What it is about, picked from the list; the free text says it in the student's words.
    reason_code: RefundReasonCode | None = None


class QuoteOut(RefundQuote):
    order_id: str
    course_name: str
    course_type: CourseType
    # Why the refund is refused or flagged, in the student's language; None when eligible.
    reason_text: str | None
    notice_channels: list[Channel]


class RefundAccepted(BaseModel):
    refund_id: str
    workflow_id: str
    status: RefundStatus


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
    reason_code: RefundReasonCode | None
    amount_paid_fen: int
    requested_fen: int
    fee_fen: int
    refund_amount_fen: int
    eligibility: Eligibility
    ineligible_reason: IneligibleReason | None
    needs_manager_confirmation: bool
    policy_version: int
    review_group: str | None
    assigned_reviewer_id: str | None
    review_due_at: AwareDatetime | None
    decision_reason: str | None
    decided_by: str | None
    requested_at: AwareDatetime
    decided_at: AwareDatetime | None
    refunded_at: AwareDatetime | None

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(
            refund_id=refund.id,
            **refund.model_dump(
                exclude={"id", "active_order_id", "updated_at", "gateway_refund_id", "policy", "assigned_at"}
            ),
        )


class RefundDetail(RefundOut):
    policy: RefundPolicy  # the version this refund was judged by
    timeline: list[TimelineItem]
    notices: list[NoticeSent]


class DecisionIn(BaseModel):
    decision: Decision
    reason: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""

    @model_validator(mode="after")
    def _rejection_needs_reason(self) -> DecisionIn:
        check_decision_reason(self.decision, self.reason)
        return self


@router.post("/quote", response_model=QuoteOut, responses=JUDGING_REFUSALS)
def quote_refund(
    body: QuoteIn, session: SessionDep, student: Annotated[User, Depends(require_roles(Role.STUDENT))]
) -> QuoteOut:
    """What a refund of this order would be, judged now: shown to the student before submitting."""
    judged = service.judge_request(
        session=session, student=student, order_id=body.order_id, requested_fen=body.amount_fen
    )
    quote = judged.quote
    return QuoteOut(
        **quote.model_dump(),
        order_id=judged.order.id,
        course_name=judged.course.name,
        course_type=CourseType(judged.course.type),
        reason_text=(
            reason_text(quote.reason, window_ends_at=quote.window_ends_at, locale=student.locale)
            if quote.reason
            else None
        ),
        notice_channels=judged.policy.notice_channels,
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RefundAccepted,
    responses=JUDGING_REFUSALS | REFUND_CONFLICT,
)
async def request_refund(
    request: Request,
    body: RefundIn,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    student: Annotated[User, Depends(require_roles(Role.STUDENT))],
) -> RefundAccepted:
    accepted = await service.request_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        student=student,
        order_id=body.order_id,
        reason=body.reason,
        reason_code=body.reason_code,
        requested_fen=body.amount_fen,
        gateways=request.app.state.gateways,
    )
    return RefundAccepted(
        refund_id=accepted.refund_id,
        workflow_id=refund_workflow_id(accepted.refund_id),
        status=RefundStatus.REQUESTED,
    )


@router.get("", response_model=list[RefundOut], responses=refusals(403))
def list_refunds(
    session: SessionDep,
    user: CurrentUser,
    status_filter: Annotated[RefundStatus | None, Query(alias="status")] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[RefundOut]:
    refunds = service.list_refunds(
        session=session, user=user, status_filter=status_filter, limit=limit, offset=offset
    )
    return [RefundOut.of(refund) for refund in refunds]


@router.get("/{refund_id}", response_model=RefundDetail, responses=refusals(404))
def get_refund(refund_id: str, session: SessionDep, user: CurrentUser) -> RefundDetail:
    refund = service.readable_refund(session=session, user=user, refund_id=refund_id)
    timeline, notices = case_history(session=session, user=user, case_type="refund", case_id=refund.id)
    return RefundDetail(
        **RefundOut.of(refund).model_dump(), policy=refund.policy, timeline=timeline, notices=notices
    )


class RefundLive(BaseModel):
    """What the refund's workflow says right now: where it stands (the sentence the Temporal UI shows)
    and its steps — for staff following a refund as it moves."""

    progress: RefundProgress
    timeline: list[TimelineEntry]


@router.get("/{refund_id}/live", response_model=RefundLive, responses=refusals(403, 404, 503))
async def get_refund_live(
    refund_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(require_roles(*REFUND_READERS))],
) -> RefundLive:
    """Asked of the workflow itself (its `status` and `timeline` queries); 503 when it cannot answer,
    and the stored detail (`GET /api/refunds/{id}`) is still there."""
    refund = service.readable_refund(session=session, user=user, refund_id=refund_id)
    session.close()  # hold no database connection while waiting on Temporal
    progress, timeline = await query_case(
        temporal=temporal,
        settings=settings,
        run=RefundWorkflow.run,
        workflow_id=refund.workflow_id,
        queries=[RefundWorkflow.status, RefundWorkflow.timeline],
    )
    return RefundLive(progress=progress, timeline=timeline)


class ConfirmationIn(BaseModel):
    outcome: ConfirmationOutcome
    note: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]


@router.post(
    "/{refund_id}/confirmation", response_model=DecisionReceipt, responses=UPDATE_REFUSALS | BEING_RECORDED
)
async def confirm_refund(
    refund_id: str,
    body: ConfirmationIn,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    manager: Annotated[User, Depends(require_roles(*REFUND_CONFIRMERS))],
    response: Response,
) -> DecisionReceipt:
    """The account manager phoned the student: confirmed (the refund is paid) or withdrawn."""
    confirmation = ManagerConfirmation(
        outcome=body.outcome, note=body.note, manager_id=manager.id, manager_name=manager.display_name
    )
    receipt = await service.confirm_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        manager=manager,
        refund_id=refund_id,
        confirmation=confirmation,
    )
    return receipt_answer(receipt, response)


@router.post(
    "/{refund_id}/decision", response_model=DecisionReceipt, responses=UPDATE_REFUSALS | BEING_RECORDED
)
async def decide_refund(
    refund_id: str,
    body: DecisionIn,
    session: SessionDep,
    temporal: TemporalDep,
    reviewer: Annotated[User, Depends(require_roles(*REFUND_DECIDERS))],
    settings: SettingsDep,
    response: Response,
) -> DecisionReceipt:
    decision = ReviewDecision(
        decision=body.decision,
        reason=body.reason,
        reviewer_id=reviewer.id,
        reviewer_name=reviewer.display_name,
    )
    receipt = await service.decide_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        reviewer=reviewer,
        refund_id=refund_id,
        decision=decision,
    )
    return receipt_answer(receipt, response)
