"""The compensation ledger on each real database: the quota counts only what the offerer granted on
their own this period; beyond it an offer waits for a lead; a retry books nothing twice; and two
offers at once cannot both fit under the same quota."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from db import compensation_ledger
from db.engine import SessionFactory
from db.models import Compensation, CompensationQuotaRow
from domain.compensation import (
    CompensationKind,
    CompensationOffer,
    CompensationOutcome,
    CompensationReservation,
    CompensationStatus,
    QuotaPeriod,
)
from domain.roles import Role
from tests.factories import make_complaint, make_order, make_user

# 10:00 Beijing on a Monday.
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def offer(by: str, kind: CompensationKind = CompensationKind.COUPON, amount_fen: int | None = 2_000, **extra):
    return CompensationOffer(
        kind=kind, amount_fen=amount_fen, reason="补偿", by=by, by_name="客服", by_role=Role.AGENT, **extra
    )


def reserve(sessions: SessionFactory, complaint, number: int, what: CompensationOffer, at: datetime = MONDAY):
    with sessions() as session:
        return compensation_ledger.reserve(
            session,
            CompensationReservation(
                compensation_id=f"CM-{complaint.id}-{number}",
                complaint_id=complaint.id,
                student_id=complaint.student_id,
                offer=what,
                at=at,
            ),
        )


def test_an_agent_grants_up_to_the_days_quota_and_then_a_lead_decides(sessions: SessionFactory) -> None:
    agent = make_user(sessions, Role.AGENT)
    complaint = make_complaint(sessions, make_user(sessions, Role.STUDENT))
    first = reserve(sessions, complaint, 1, offer(agent.id, amount_fen=3_000))
    assert (first.status, first.quota.coupon_fen_used, first.quota.coupon_fen_left) == (
        CompensationStatus.ISSUING,
        3_000,
        2_000,
    )
    beyond = reserve(sessions, complaint, 2, offer(agent.id, amount_fen=2_001))
    assert beyond.status is CompensationStatus.AWAITING_APPROVAL
    assert beyond.quota.coupon_fen_left == 2_000  # waiting for a lead uses no quota
    exact = reserve(sessions, complaint, 3, offer(agent.id, amount_fen=2_000))
    assert (exact.status, exact.quota.coupon_fen_left) == (CompensationStatus.ISSUING, 0)
    with sessions() as session:
        authority = {
            row.id[-1]: row.authority
            for row in session.exec(select(Compensation).where(Compensation.complaint_id == complaint.id))
        }
    assert authority == {"1": "quota", "2": "lead", "3": "quota"}

    # The next Beijing day the quota is whole again; a failed grant gave nothing and counts nothing.
    tomorrow = MONDAY + timedelta(days=1)
    fresh = reserve(sessions, complaint, 4, offer(agent.id, amount_fen=5_000), at=tomorrow)
    assert fresh.status is CompensationStatus.ISSUING
    with sessions() as session:
        compensation_ledger.settle(
            session,
            CompensationOutcome(
                compensation_id=fresh.compensation_id,
                status=CompensationStatus.FAILED,
                failure="refused",
                at=tomorrow,
            ),
        )
        use = compensation_ledger.quota_use(session, user_id=agent.id, role=Role.AGENT, at=tomorrow)
    assert use.coupon_fen_left == 5_000


def test_progress_resets_count_separately_and_a_retry_books_nothing_twice(sessions: SessionFactory) -> None:
    agent = make_user(sessions, Role.AGENT)
    student = make_user(sessions, Role.STUDENT)
    complaint = make_complaint(sessions, student)
    order = make_order(sessions, student)
    reset = offer(agent.id, CompensationKind.PROGRESS_RESET, None, order_id=order.id)
    tickets = [reserve(sessions, complaint, n, reset) for n in (1, 2, 3, 4)]
    assert [t.status for t in tickets] == [CompensationStatus.ISSUING] * 3 + [
        CompensationStatus.AWAITING_APPROVAL
    ]
    again = reserve(sessions, complaint, 1, reset)  # the activity retried after a lost reply
    assert again.status is CompensationStatus.ISSUING and again.quota.progress_resets_used == 3
    with sessions() as session:
        assert (
            len(session.exec(select(Compensation).where(Compensation.complaint_id == complaint.id)).all())
            == 4
        )
        assert (
            compensation_ledger.quota_use(
                session, user_id=agent.id, role=Role.AGENT, at=MONDAY
            ).coupon_fen_used
            == 0
        )


def test_a_role_without_a_quota_grants_nothing_on_its_own_and_weeks_start_on_monday(
    sessions: SessionFactory,
) -> None:
    with sessions() as session:
        assert compensation_ledger.quota_of(session, Role.FINANCE).coupon_fen == 0
        lead = session.get(CompensationQuotaRow, "lead")
        assert (lead.period, lead.coupon_fen, lead.progress_resets) == ("day", 50_000, 20)  # the migration's
    sunday_night = datetime(2026, 11, 29, 15, 59, tzinfo=UTC)  # 23:59 Beijing, Sunday
    assert QuotaPeriod.WEEK.start(sunday_night).isoformat() == "2026-11-23T00:00:00+08:00"
    assert QuotaPeriod.MONTH.start(sunday_night).isoformat() == "2026-11-01T00:00:00+08:00"
    assert (
        QuotaPeriod.DAY.start(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)).isoformat()
        == "2026-11-24T00:00:00+08:00"
    )


def test_two_offers_at_once_cannot_both_fit_under_the_same_quota(sessions: SessionFactory) -> None:
    agent = make_user(sessions, Role.AGENT)
    complaints = [make_complaint(sessions, make_user(sessions, Role.STUDENT)) for _ in range(6)]

    def attempt(complaint):
        # As the activity would be: retried when the database refuses a conflicting write.
        for _ in range(20):
            try:
                return reserve(sessions, complaint, 1, offer(agent.id, amount_fen=2_000))
            except Exception:  # a lock conflict or a busy database: try again
                continue
        raise AssertionError("never booked")

    with ThreadPoolExecutor(max_workers=6) as pool:
        tickets = list(pool.map(attempt, complaints))
    granted = [t for t in tickets if t.status is CompensationStatus.ISSUING]
    assert len(granted) == 2  # 2 × 2,000 fits under 5,000; a third would not
    with sessions() as session:
        use = compensation_ledger.quota_use(session, user_id=agent.id, role=Role.AGENT, at=MONDAY)
    assert use.coupon_fen_used == 4_000
