"""Which reviewer group decides a refund, and who in it.

Rules are data (table routing_rules), tried in priority order; the first whose conditions all hold
names the group. Within the group the reviewer with the fewest refunds awaiting review gets it; on a
tie, the one who was given a refund least recently (round robin)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.courses import CourseType


class RoutingRule(BaseModel):
    priority: int
    group_id: str
    course_type: CourseType | None = None  # None: any
    min_amount_fen: int | None = None  # refund amount at least this much
    vip_only: bool = False

    def matches(self, *, course_type: CourseType, refund_amount_fen: int, vip: bool) -> bool:
        return (
            (self.course_type is None or self.course_type is course_type)
            and (self.min_amount_fen is None or refund_amount_fen >= self.min_amount_fen)
            and (vip or not self.vip_only)
        )


def route(
    rules: list[RoutingRule], *, course_type: CourseType, refund_amount_fen: int, vip: bool
) -> str | None:
    for rule in sorted(rules, key=lambda r: r.priority):
        if rule.matches(course_type=course_type, refund_amount_fen=refund_amount_fen, vip=vip):
            return rule.group_id
    return None


class ReviewerLoad(BaseModel):
    reviewer_id: str
    awaiting: int  # refunds assigned to them and awaiting review now
    last_assigned_at: datetime | None  # None: never given one


def pick_reviewer(loads: list[ReviewerLoad]) -> str | None:
    """Least loaded first; among equals, whoever waited longest since their last refund."""
    if not loads:
        return None
    never = datetime.min.replace(tzinfo=None)

    def key(load: ReviewerLoad) -> tuple[int, datetime, str]:
        last = load.last_assigned_at.replace(tzinfo=None) if load.last_assigned_at else never
        return (load.awaiting, last, load.reviewer_id)

    return min(loads, key=key).reviewer_id
