"""The common reasons for refund decisions: reviewers read the list, admins keep it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.deps import RowId, SessionDep, require_roles
from api.errors import refusals
from api.services import decision_reasons as service
from db.models import DecisionReason, User
from domain.refunds import Decision
from domain.roles import REFUND_DECIDERS, Role
from domain.text import NO_CONTROL_CHARACTERS

router = APIRouter(prefix="/api/decision-reasons", tags=["refunds"], responses=refusals(401, 403))
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
ReasonText = Annotated[str, Field(min_length=1, max_length=200), NO_CONTROL_CHARACTERS]


class ReasonOut(BaseModel):
    id: int
    decision: Decision
    text: str
    position: int
    is_active: bool


class ReasonIn(BaseModel):
    decision: Decision
    text: ReasonText


class ReasonChange(BaseModel):
    text: ReasonText | None = None
    position: Annotated[int, Field(ge=0, le=1000)] | None = None
    is_active: bool | None = None


def reason_out(row: DecisionReason) -> ReasonOut:
    return ReasonOut.model_validate(row, from_attributes=True)


@router.get("", response_model=list[ReasonOut])
def list_reasons(
    session: SessionDep,
    _user: Annotated[User, Depends(require_roles(*REFUND_DECIDERS, Role.ADMIN))],
    include_inactive: bool = False,
) -> list[ReasonOut]:
    return [reason_out(row) for row in service.reasons(session, active_only=not include_inactive)]


@router.post("", response_model=ReasonOut, status_code=status.HTTP_201_CREATED)
def add_reason(body: ReasonIn, session: SessionDep, admin: AdminUser) -> ReasonOut:
    return reason_out(service.add_reason(session, admin=admin, decision=body.decision, text=body.text))


@router.patch("/{reason_id}", response_model=ReasonOut, responses=refusals(404))
def change_reason(reason_id: RowId, body: ReasonChange, session: SessionDep, admin: AdminUser) -> ReasonOut:
    return reason_out(service.change_reason(session, admin=admin, reason_id=reason_id, **body.model_dump()))
