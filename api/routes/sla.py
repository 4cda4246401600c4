"""The complaint SLA table: how fast each category is answered and settled, and by which department.
Complaint staff read it; admins edit it. An edit applies to complaints filed from then on (each
complaint snapshots the table when it is filed); every edit is audited with before and after.

Registered before the complaints router: `GET /api/complaints/sla` would otherwise be read as the
complaint with id "sla"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, ValidationInfo, field_validator
from sqlmodel import Session

from api.deps import SessionDep, require_roles
from api.errors import refusals
from api.services.audit import audit_config_change
from db.models import User
from db.sla_store import save_sla_terms, sla_in_force
from domain.complaints import ComplaintCategory, SlaTerms
from domain.roles import Role

router = APIRouter(prefix="/api/complaints/sla", tags=["complaints"], responses=refusals(401, 403))
SLA_READERS = (Role.AGENT, Role.LEAD, Role.ADMIN)


class SlaTermsIn(SlaTerms):
    """A category's new terms, whole (the bounds are SlaTerms' own)."""

    business_hours_only: bool  # required: a PUT that forgot it must not quietly reset it

    @field_validator("resolution_minutes")
    @classmethod
    def _not_before_the_first_response(cls, minutes: int, info: ValidationInfo) -> int:
        first_response = info.data.get("first_response_minutes")  # absent when it failed itself
        if first_response is not None and minutes < first_response:
            raise ValueError(
                f"the resolution ({minutes} min) cannot be due before the first response "
                f"({first_response} min)"
            )
        return minutes


class SlaTermsOut(SlaTerms):
    category: ComplaintCategory
    updated_by: str | None  # None, with updated_at: the default applies (no usable row)
    updated_at: AwareDatetime | None


def _table(session: Session) -> list[SlaTermsOut]:
    return [
        SlaTermsOut(
            category=category,
            **found.terms.model_dump(),
            updated_by=found.row.updated_by if found.row else None,
            updated_at=found.row.updated_at if found.row else None,
        )
        for category, found in sla_in_force(session).items()
    ]


@router.get("", response_model=list[SlaTermsOut], dependencies=[Depends(require_roles(*SLA_READERS))])
def get_sla(session: SessionDep) -> list[SlaTermsOut]:
    return _table(session)


@router.put("/{category}", response_model=SlaTermsOut)
def put_sla(
    category: ComplaintCategory,
    body: SlaTermsIn,
    session: SessionDep,
    admin: Annotated[User, Depends(require_roles(Role.ADMIN))],
) -> SlaTermsOut:
    """Replace one category's terms. Complaints already filed keep the terms they were filed under."""
    after = SlaTerms.model_validate(body.model_dump())
    before = save_sla_terms(session, category, after, by=admin.id)
    audit_config_change(
        session,
        admin,
        "complaint_sla.terms_set",
        category.value,
        {"before": before.model_dump(mode="json"), "after": after.model_dump(mode="json")},
    )
    session.commit()
    return next(row for row in _table(session) if row.category is category)
