"""Compensation across complaints: the offers (a lead's approval queue, an agent's own), what the
caller may still grant this period, and the quotas per role (admins set them; every change is
audited). Offering and deciding happen on the complaint: /api/complaints/{id}/compensations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import PageLimit, PageOffset, SessionDep, require_roles
from api.errors import refusals
from api.services import compensation as service
from db.models import Compensation, User
from domain.compensation import (
    COMPENSATING_ROLES,
    MAX_COUPON_FEN,
    CompensationKind,
    CompensationQuota,
    CompensationStatus,
    QuotaPeriod,
    QuotaUse,
)
from domain.roles import Role

router = APIRouter(prefix="/api/compensations", tags=["compensation"], responses=refusals(401, 403))
Compensator = Annotated[User, Depends(require_roles(*COMPENSATING_ROLES))]


class OfferOut(BaseModel):
    compensation_id: str
    complaint_id: str
    student_id: str
    kind: CompensationKind
    amount_fen: int | None
    order_id: str | None
    reason: str
    requested_by: str
    authority: str  # "quota": the offerer's own; "lead": a lead's approval
    status: CompensationStatus
    decided_by: str | None
    decision_note: str | None
    external_ref: str | None  # the coupon code, or the commerce system's reset reference
    failure: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, row: Compensation) -> OfferOut:
        return cls(compensation_id=row.id, **row.model_dump(exclude={"id"}))


class QuotaIn(BaseModel):
    period: QuotaPeriod
    coupon_fen: int = Field(ge=0, le=100 * MAX_COUPON_FEN)
    progress_resets: int = Field(ge=0, le=1000)


@router.get("", response_model=list[OfferOut])
def list_offers(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(Role.AGENT, Role.LEAD, Role.ADMIN))],
    status: CompensationStatus | None = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[OfferOut]:
    """Newest first. Leads and admins see every offer (status=awaiting_approval is the approval
    queue); an agent sees their own."""
    rows = service.list_offers(session, user=user, status_filter=status, limit=limit, offset=offset)
    return [OfferOut.of(row) for row in rows]


@router.get("/quota", response_model=QuotaUse)
def my_quota(session: SessionDep, user: Compensator) -> QuotaUse:
    """What the caller has granted on their own this period, and may still grant."""
    return service.my_quota(session, user)


@router.get("/quotas", response_model=list[CompensationQuota])
def quotas(
    session: SessionDep, _user: Annotated[User, Depends(require_roles(Role.AGENT, Role.LEAD, Role.ADMIN))]
) -> list[CompensationQuota]:
    return service.quotas(session)


@router.put("/quotas/{role}", response_model=CompensationQuota)
def set_quota(
    role: Role, body: QuotaIn, session: SessionDep, admin: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> CompensationQuota:
    """Applies to offers from now on; what was granted this period still counts."""
    quota = CompensationQuota(role=role, **body.model_dump())
    return service.set_quota(session, admin=admin, quota=quota)
