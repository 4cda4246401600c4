"""The finance team's queue: refunds the gateway could not pay, and finance's answer on each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlmodel import col, select

from api.deps import PageLimit, PageOffset, SessionDep, SettingsDep, TemporalDep, require_roles
from api.errors import refusals
from api.routes.refunds import BEING_RECORDED, receipt_answer
from api.services import refunds as service
from db.models import FinanceTask, Refund, User
from domain.finance import (
    FinanceTaskKind,
    FinanceTaskStatus,
    PayoutOutcome,
    PayoutResolution,
    check_payout_reference,
)
from domain.refunds import DecisionReceipt
from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS

router = APIRouter(prefix="/api/finance", tags=["finance"], responses=refusals(401, 403))


class FinanceTaskOut(BaseModel):
    task_id: str
    refund_id: str
    kind: FinanceTaskKind
    status: FinanceTaskStatus
    detail: str
    opened_at: AwareDatetime
    order_id: str
    student_id: str
    course_name: str
    gateway: str
    refund_amount_fen: int
    outcome: PayoutOutcome | None
    reference: str | None
    note: str | None
    resolved_by: str | None
    resolved_at: AwareDatetime | None


class PayoutIn(BaseModel):
    outcome: PayoutOutcome
    reference: Annotated[str, Field(max_length=100), NO_CONTROL_CHARACTERS] | None = None
    note: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""

    @model_validator(mode="after")
    def _offline_payment_needs_reference(self) -> PayoutIn:
        check_payout_reference(self.outcome, self.reference)
        return self


@router.get("/tasks", response_model=list[FinanceTaskOut])
def list_tasks(
    session: SessionDep,
    _staff: Annotated[User, Depends(require_roles(Role.FINANCE, Role.LEAD, Role.ADMIN))],
    status_filter: Annotated[FinanceTaskStatus, Query(alias="status")] = FinanceTaskStatus.OPEN,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[FinanceTaskOut]:
    """Oldest first: the student who has waited longest is helped first."""
    rows = session.exec(
        select(FinanceTask, Refund)
        .join(Refund, col(Refund.id) == col(FinanceTask.refund_id))
        .where(FinanceTask.status == status_filter.value)
        .order_by(col(FinanceTask.opened_at), col(FinanceTask.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        FinanceTaskOut(
            task_id=task.id,
            **task.model_dump(exclude={"id"}),
            order_id=refund.order_id,
            student_id=refund.student_id,
            course_name=refund.course_name,
            gateway=refund.gateway,
            refund_amount_fen=refund.refund_amount_fen,
        )
        for task, refund in rows
    ]


@router.post(
    "/tasks/{task_id}/resolution",
    response_model=DecisionReceipt,
    responses=refusals(404, 409, 503) | BEING_RECORDED,
)
async def resolve_task(
    task_id: str,
    body: PayoutIn,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    finance: Annotated[User, Depends(require_roles(Role.FINANCE))],
    response: Response,
) -> DecisionReceipt:
    """paid_offline (with the transfer's reference) completes the refund; retry_gateway asks the
    gateway again with the same refund number, allowed only when the gateway refused the request."""
    resolution = PayoutResolution(
        outcome=body.outcome, reference=body.reference, note=body.note, resolved_by=finance.id
    )
    receipt = await service.resolve_finance_task(
        session=session,
        temporal=temporal,
        settings=settings,
        finance=finance,
        task_id=task_id,
        resolution=resolution,
    )
    return receipt_answer(receipt, response)
