"""Each row of the school's refund policy table, and the money properties of any quote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.courses import CourseType
from domain.policy import (
    ContractTerms,
    Eligibility,
    IneligibleReason,
    OutsideWindow,
    PolicyTerms,
    RefundQuote,
    RefundWindow,
    quote_refund,
    reason_text,
)
from tests.factories import default_policy

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
TRIAL, REGULAR, PREMIUM = (
    default_policy(t) for t in (CourseType.TRIAL, CourseType.REGULAR, CourseType.PREMIUM)
)


def quote(
    policy, *, starts_at=None, contract=None, paid=199_900, refunded=0, requested=None, now=NOW
) -> RefundQuote:
    return quote_refund(
        policy,
        course_starts_at=starts_at,
        contract=contract,
        amount_paid_fen=paid,
        already_refunded_fen=refunded,
        requested_fen=requested,
        now=now,
    )


# --- trial: any time before the course starts, no fee, in-app + email -----------------------------


def test_trial_is_refunded_in_full_before_the_course_starts() -> None:
    q = quote(TRIAL, starts_at=NOW + timedelta(minutes=1), paid=9_900)
    assert (q.eligibility, q.fee_fen, q.refund_amount_fen) == (Eligibility.ELIGIBLE, 0, 9_900)
    assert TRIAL.notice_channels == ["inbox", "email"]


def test_trial_is_rejected_once_the_course_has_started() -> None:
    q = quote(TRIAL, starts_at=NOW, paid=9_900)
    assert (q.eligibility, q.reason) == (Eligibility.INELIGIBLE, IneligibleReason.OUTSIDE_WINDOW)
    assert q.window_ends_at == NOW


# --- regular: until 7 days after the course starts, 10% fee, in-app + email + SMS ------------------


@pytest.mark.parametrize(
    ("started_ago", "eligibility"),
    [
        (timedelta(days=-3), Eligibility.ELIGIBLE),  # not started yet
        (timedelta(days=7), Eligibility.ELIGIBLE),  # the last moment of day 7
        (timedelta(days=7, seconds=1), Eligibility.INELIGIBLE),
    ],
)
def test_regular_window_is_seven_days_after_the_start(
    started_ago: timedelta, eligibility: Eligibility
) -> None:
    assert quote(REGULAR, starts_at=NOW - started_ago).eligibility is eligibility


def test_regular_keeps_a_ten_percent_fee_and_tells_by_sms_too() -> None:
    q = quote(REGULAR, starts_at=NOW, paid=299_900)
    assert (q.fee_bp, q.fee_fen, q.refund_amount_fen) == (1_000, 29_990, 269_910)
    assert REGULAR.notice_channels == ["inbox", "email", "sms"]


def test_a_high_value_regular_refund_needs_a_managers_call() -> None:
    assert not quote(REGULAR, starts_at=NOW, paid=299_900).needs_manager_confirmation
    assert quote(REGULAR, starts_at=NOW, paid=600_000).needs_manager_confirmation  # ¥5,400 back ≥ ¥5,000


# --- premium: per contract, manager's phone confirmation ------------------------------------------


def test_premium_follows_the_contract() -> None:
    contract = ContractTerms(refund_deadline=NOW + timedelta(days=30), fee_bp=2_000)
    q = quote(PREMIUM, contract=contract, paid=1_980_000)
    assert (q.eligibility, q.fee_fen, q.refund_amount_fen) == (Eligibility.ELIGIBLE, 396_000, 1_584_000)
    assert q.window_ends_at == contract.refund_deadline
    assert q.needs_manager_confirmation


def test_premium_after_the_contract_deadline_goes_to_manual_review() -> None:
    contract = ContractTerms(refund_deadline=NOW - timedelta(days=1), fee_bp=2_000)
    q = quote(PREMIUM, contract=contract)
    assert (q.eligibility, q.reason) == (Eligibility.EXCEPTION, IneligibleReason.OUTSIDE_WINDOW)


def test_premium_without_contract_terms_is_an_exception_for_a_person_to_check() -> None:
    q = quote(PREMIUM, contract=None)
    assert (q.eligibility, q.reason, q.fee_fen) == (
        Eligibility.EXCEPTION,
        IneligibleReason.CONTRACT_TERMS_MISSING,
        0,
    )


def test_a_policy_may_send_late_requests_to_review_instead_of_rejecting() -> None:
    lenient = REGULAR.model_copy(update={"outside_window": OutsideWindow.MANUAL_REVIEW})
    assert quote(lenient, starts_at=NOW - timedelta(days=30)).eligibility is Eligibility.EXCEPTION


# --- partial refunds ---------------------------------------------------------------------------------


def test_a_partial_request_takes_the_fee_from_the_part_asked_for() -> None:
    q = quote(REGULAR, starts_at=NOW, paid=199_900, requested=100_000)
    assert (q.requested_fen, q.fee_fen, q.refund_amount_fen, q.refundable_fen) == (
        100_000,
        10_000,
        90_000,
        199_900,
    )


@pytest.mark.parametrize("requested", [0, -5, 199_901])
def test_asking_for_nothing_or_more_than_is_left_is_refused(requested: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 199900"):
        quote(TRIAL, requested=requested)


def test_an_order_refunded_in_full_has_nothing_left() -> None:
    q = quote(TRIAL, paid=9_900, refunded=9_900)
    assert (q.eligibility, q.reason, q.refundable_fen, q.refund_amount_fen) == (
        Eligibility.INELIGIBLE,
        IneligibleReason.NOTHING_LEFT,
        0,
        0,
    )


policies = st.sampled_from([TRIAL, REGULAR, PREMIUM])
contracts = st.one_of(
    st.none(),
    st.builds(ContractTerms, refund_deadline=st.just(NOW), fee_bp=st.integers(0, 10_000)),
)


@given(policies, contracts, st.integers(0, 10**9), st.data())
def test_any_quote_adds_up_and_stays_within_what_was_paid(policy, contract, paid: int, data) -> None:
    refunded = data.draw(st.integers(0, paid))
    left = paid - refunded
    requested = data.draw(st.one_of(st.none(), st.integers(1, left))) if left else None
    q = quote(policy, contract=contract, paid=paid, refunded=refunded, requested=requested)
    assert q.refund_amount_fen + q.fee_fen == q.requested_fen
    assert 0 <= q.refund_amount_fen <= q.requested_fen <= q.refundable_fen == left <= paid
    assert q.fee_fen >= 0


@given(st.integers(1, 10**8), st.lists(st.integers(1, 10**8), max_size=12))
def test_partial_refunds_in_sequence_never_exceed_what_was_paid(paid: int, asks: list[int]) -> None:
    refunded = 0
    for ask in asks:
        left = paid - refunded
        if left == 0:
            assert quote(REGULAR, paid=paid, refunded=refunded).reason is IneligibleReason.NOTHING_LEFT
            break
        if ask > left:
            with pytest.raises(ValueError):
                quote(REGULAR, paid=paid, refunded=refunded, requested=ask)
            continue
        refunded += quote(REGULAR, paid=paid, refunded=refunded, requested=ask).requested_fen
        assert refunded <= paid


# --- what admins may publish -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window": RefundWindow.DAYS_AFTER_START, "window_days": None}, "window_days is required"),
        ({"window": RefundWindow.BEFORE_START, "window_days": 3}, "window_days applies only"),
        (
            {"window": RefundWindow.PER_CONTRACT, "window_days": None, "fee_bp": 100},
            "takes its fee from the contract",
        ),
        ({"fee_bp": None}, "fee_bp is required"),
        ({"fee_bp": 10_001}, "less than or equal to 10000"),
        ({"notice_channels": ["email"]}, "inbox is always"),
        ({"notice_channels": ["inbox", "inbox"]}, "listed twice"),
        ({"notice_channels": ["inbox", "fax"]}, "Input should be"),
        ({"review_reminder_hours": 48, "review_escalation_hours": 24}, "escalation must come after"),
    ],
)
def test_inconsistent_terms_are_refused(changes: dict, message: str) -> None:
    terms = {**REGULAR.model_dump(exclude={"course_type", "version"}), **changes}
    with pytest.raises(ValidationError, match=message):
        PolicyTerms(**terms)


def test_reasons_are_told_in_the_students_language() -> None:
    ends = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert reason_text(IneligibleReason.OUTSIDE_WINDOW, window_ends_at=ends, locale="zh-CN") == (
        "很抱歉，本课程的退款期限已于 2026-11-20 10:00 结束"
    )
    assert "ended on 2026-11-20 10:00" in reason_text(
        IneligibleReason.OUTSIDE_WINDOW, window_ends_at=ends, locale="en"
    )
