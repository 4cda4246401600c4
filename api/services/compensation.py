"""Compensation for the API: an agent's offer made concrete (whose order, which course), a lead's
decision checked against the ledger, the offers list, and the quotas."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlmodel import Session, col, select

from api.errors import field_error
from api.services.audit import audit_config_change
from api.services.complaints import readable_complaint
from db import compensation_ledger
from db.models import Compensation, CompensationQuotaRow, Course, Order, User
from domain.compensation import (
    COMPENSATING_ROLES,
    CompensationKind,
    CompensationOffer,
    CompensationQuota,
    CompensationStatus,
    QuotaUse,
)
from domain.roles import Role
from domain.timeutil import utcnow

# Who sees every offer (the approval queue); an agent sees their own.
OFFER_OVERSEERS = frozenset({Role.LEAD, Role.ADMIN})


def make_offer(
    session: Session,
    *,
    user: User,
    complaint_id: str,
    kind: CompensationKind,
    amount_fen: int | None,
    order_id: str | None,
    reason: str,
) -> CompensationOffer:
    """The offer as the workflow takes it; a reset names an order of the complaint's student
    (the complaint's own order unless another is given)."""
    complaint = readable_complaint(session=session, user=user, complaint_id=complaint_id)
    course_name = None
    if kind is CompensationKind.PROGRESS_RESET:
        order_id = order_id or complaint.order_id
        if order_id is None:
            raise field_error(
                "order_id", "name the order whose course starts again; the complaint names none"
            )
        order = session.get(Order, order_id)
        if order is None or order.student_id != complaint.student_id:
            raise field_error("order_id", f"{order_id} is not an order of this complaint's student")
        course = session.get(Course, order.course_id)
        course_name = course.name if course else None
    return CompensationOffer(
        kind=kind,
        amount_fen=amount_fen,
        order_id=order_id,
        course_name=course_name,
        reason=reason,
        by=user.id,
        by_name=user.display_name,
        by_role=Role(user.role),
    )


def check_decision(session: Session, *, lead: User, complaint_id: str, compensation_id: str) -> None:
    """404 for an offer not on this complaint, 409 when it no longer waits, 403 for one's own."""
    row = session.get(Compensation, compensation_id)
    if row is None or row.complaint_id != complaint_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no compensation {compensation_id} on {complaint_id}")
    if row.status != CompensationStatus.AWAITING_APPROVAL.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"compensation {compensation_id} is {row.status}; there is nothing to decide",
        )
    if row.requested_by == lead.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "another lead decides on your own offer")


def list_offers(
    session: Session, *, user: User, status_filter: CompensationStatus | None, limit: int, offset: int
) -> list[Compensation]:
    query = select(Compensation)
    if Role(user.role) not in OFFER_OVERSEERS:
        query = query.where(Compensation.requested_by == user.id)
    if status_filter is not None:
        query = query.where(Compensation.status == status_filter.value)
    query = query.order_by(col(Compensation.created_at).desc(), col(Compensation.id))
    return list(session.exec(query.offset(offset).limit(limit)))


def quotas(session: Session) -> list[CompensationQuota]:
    return [compensation_ledger.quota_of(session, role) for role in sorted(COMPENSATING_ROLES)]


def set_quota(session: Session, *, admin: User, quota: CompensationQuota) -> CompensationQuota:
    if quota.role not in COMPENSATING_ROLES:
        roles = ", ".join(sorted(COMPENSATING_ROLES))
        raise field_error("role", f"only {roles} grant compensation", where="path")
    row = session.get(CompensationQuotaRow, quota.role.value) or CompensationQuotaRow(
        role=quota.role.value, period=quota.period.value, coupon_fen=0, progress_resets=0
    )
    before = {"period": row.period, "coupon_fen": row.coupon_fen, "progress_resets": row.progress_resets}
    row.period = quota.period.value
    row.coupon_fen = quota.coupon_fen
    row.progress_resets = quota.progress_resets
    row.updated_by = admin.id
    row.updated_at = utcnow()
    session.add(row)
    audit_config_change(
        session,
        admin,
        "compensation.quota_set",
        quota.role.value,
        {"before": before, "after": quota.model_dump(mode="json", exclude={"role"})},
    )
    session.commit()
    return compensation_ledger.quota_of(session, quota.role)


def my_quota(session: Session, user: User) -> QuotaUse:
    return compensation_ledger.quota_use(session, user_id=user.id, role=Role(user.role), at=utcnow())
