from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from domain.refunds import (
    APPROVED_STATUSES,
    DECIDABLE_STATUSES,
    GATEWAY_POLL_MINUTES,
    Decision,
    RefundStatus,
    ReviewDecision,
    gateway_poll_minutes,
)


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="rejection needs a reason"):
        ReviewDecision(decision=Decision.REJECT, reason="   ", reviewer_id="U1", reviewer_name="r")
    assert ReviewDecision(decision=Decision.REJECT, reason="课程已过半", reviewer_id="U1", reviewer_name="r")


def test_an_approval_may_come_without_a_reason() -> None:
    assert ReviewDecision(decision=Decision.APPROVE, reviewer_id="U1", reviewer_name="r").reason == ""


def test_gateway_polling_backs_off_then_holds_at_the_last_interval() -> None:
    first = list(itertools.islice(gateway_poll_minutes(), len(GATEWAY_POLL_MINUTES) + 3))
    assert first == [1, 5, 10, 20, 30, 30, 30, 30]


def test_every_status_is_undecided_approved_or_rejected_as_the_monthly_report_counts_it() -> None:
    groups = [DECIDABLE_STATUSES, APPROVED_STATUSES, {RefundStatus.REJECTED}]
    assert sorted(status for group in groups for status in group) == sorted(RefundStatus)  # each once
