from __future__ import annotations

from datetime import UTC, datetime

from domain.courses import CourseType
from domain.routing import ReviewerLoad, RoutingRule, pick_reviewer, route

RULES = [
    RoutingRule(priority=50, group_id="trial-courses", course_type=CourseType.TRIAL),
    RoutingRule(priority=10, group_id="vip-desk", vip_only=True),
    RoutingRule(priority=30, group_id="high-value", min_amount_fen=500_000),
    RoutingRule(priority=40, group_id="regular-courses", course_type=CourseType.REGULAR),
    RoutingRule(priority=20, group_id="premium-courses", course_type=CourseType.PREMIUM),
]


def test_rules_are_tried_in_priority_order() -> None:
    assert route(RULES, course_type=CourseType.REGULAR, refund_amount_fen=100, vip=True) == "vip-desk"
    assert (
        route(RULES, course_type=CourseType.PREMIUM, refund_amount_fen=9_000_000, vip=False)
        == "premium-courses"
    )
    assert route(RULES, course_type=CourseType.REGULAR, refund_amount_fen=500_000, vip=False) == "high-value"
    assert (
        route(RULES, course_type=CourseType.REGULAR, refund_amount_fen=499_999, vip=False)
        == "regular-courses"
    )
    assert route(RULES, course_type=CourseType.TRIAL, refund_amount_fen=990, vip=False) == "trial-courses"


def test_no_matching_rule_means_no_group() -> None:
    assert route(RULES[:1], course_type=CourseType.REGULAR, refund_amount_fen=1, vip=False) is None


def load(reviewer_id: str, awaiting: int, last: datetime | None) -> ReviewerLoad:
    return ReviewerLoad(reviewer_id=reviewer_id, awaiting=awaiting, last_assigned_at=last)


def test_the_least_loaded_reviewer_gets_it_and_ties_go_round_robin() -> None:
    monday, tuesday = datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)
    assert pick_reviewer([load("a", 3, monday), load("b", 1, tuesday)]) == "b"
    assert pick_reviewer([load("a", 1, tuesday), load("b", 1, monday)]) == "b"
    assert pick_reviewer([load("a", 0, monday), load("b", 0, None)]) == "b"
    assert pick_reviewer([]) is None
