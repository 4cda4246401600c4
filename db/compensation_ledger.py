"""The compensation ledger: what each person may grant on their own, what they have granted this
period, and the booking of a new offer against it — in one transaction, with the offerer's row
locked, so two offers at once cannot both squeeze under the same quota."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from db.models import Compensation, CompensationQuotaRow, User
from domain.compensation import (
    Authority,
    CompensationKind,
    CompensationOutcome,
    CompensationQuota,
    CompensationReservation,
    CompensationStatus,
    CompensationTicket,
    QuotaPeriod,
    QuotaUse,
)
from domain.roles import Role

# Grants that count against a quota: given, or being given. Declined and failed ones gave nothing.
COUNTED = (CompensationStatus.ISSUING.value, CompensationStatus.ISSUED.value)


def quota_of(session: Session, role: Role) -> CompensationQuota:
    """The role's quota; a role without one may grant nothing on its own."""
    row = session.get(CompensationQuotaRow, role.value)
    if row is None:
        return CompensationQuota(role=role, period=QuotaPeriod.DAY, coupon_fen=0, progress_resets=0)
    return CompensationQuota(
        role=role,
        period=QuotaPeriod(row.period),
        coupon_fen=row.coupon_fen,
        progress_resets=row.progress_resets,
    )


def quota_use(session: Session, *, user_id: str, role: Role, at: datetime) -> QuotaUse:
    quota = quota_of(session, role)
    start = quota.period.start(at)
    counted = (
        Compensation.requested_by == user_id,
        Compensation.authority == Authority.QUOTA.value,
        col(Compensation.status).in_(COUNTED),
        col(Compensation.created_at) >= start,
    )
    coupons = session.exec(
        select(func.coalesce(func.sum(Compensation.amount_fen), 0)).where(
            *counted, Compensation.kind == CompensationKind.COUPON.value
        )
    ).one()
    resets = session.exec(
        select(func.count()).where(*counted, Compensation.kind == CompensationKind.PROGRESS_RESET.value)
    ).one()
    return QuotaUse(
        period=quota.period,
        period_start=start,
        coupon_fen_used=int(coupons),
        coupon_fen_left=max(quota.coupon_fen - int(coupons), 0),
        progress_resets_used=int(resets),
        progress_resets_left=max(quota.progress_resets - int(resets), 0),
    )


def reserve(session: Session, reservation: CompensationReservation) -> CompensationTicket:
    """Book the offer: on the offerer's quota when it fits, else for a lead to decide. A retry of
    the same reservation (same id) returns what was booked the first time."""
    offer = reservation.offer
    # Take the offerer's row for writing before counting: a row lock in PostgreSQL, the database's
    # write lock in SQLite (where a SELECT would not even open the transaction). A second offer by
    # the same person waits here until this one is booked, then counts it.
    locked = session.exec(update(User).where(col(User.id) == offer.by).values(is_active=User.is_active))
    if locked.rowcount != 1:
        raise LookupError(f"no user {offer.by}")
    use = quota_use(session, user_id=offer.by, role=offer.by_role, at=reservation.at)
    booked = session.get(Compensation, reservation.compensation_id)
    if booked is None:
        within = use.covers(offer)
        booked = Compensation(
            id=reservation.compensation_id,
            complaint_id=reservation.complaint_id,
            student_id=reservation.student_id,
            kind=offer.kind.value,
            amount_fen=offer.amount_fen,
            order_id=offer.order_id,
            reason=offer.reason,
            requested_by=offer.by,
            authority=(Authority.QUOTA if within else Authority.LEAD).value,
            status=(CompensationStatus.ISSUING if within else CompensationStatus.AWAITING_APPROVAL).value,
            created_at=reservation.at,
            updated_at=reservation.at,
        )
        session.add(booked)
        session.commit()
        use = quota_use(session, user_id=offer.by, role=offer.by_role, at=reservation.at)
    return CompensationTicket(compensation_id=booked.id, status=CompensationStatus(booked.status), quota=use)


def settle(session: Session, outcome: CompensationOutcome) -> None:
    """Record what became of a compensation: approved (now issuing), declined, issued or failed."""
    row = session.get(Compensation, outcome.compensation_id)
    if row is None:
        raise LookupError(f"no compensation {outcome.compensation_id}")
    row.status = outcome.status.value
    row.updated_at = outcome.at
    for field in ("external_ref", "failure", "decided_by", "decision_note"):
        value = getattr(outcome, field)
        if value is not None:
            setattr(row, field, value)
    session.add(row)
    session.commit()
