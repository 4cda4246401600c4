"""Frontline compensation for a complaint: a coupon of N fen, or a reset of a course's progress.

An agent grants it at once while it fits their quota (per role, per period: so much in coupons,
so many resets); beyond it, a lead decides. Quotas are counted on the server from the grants made
on the agent's own authority, so no client can talk its way past them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS
from domain.timeutil import SHANGHAI

# The largest single coupon anyone may grant: beyond this it is a refund, not a gesture.
MAX_COUPON_FEN = 100_000


class CompensationKind(StrEnum):
    COUPON = "coupon"  # amount_fen off the student's next purchase
    PROGRESS_RESET = "progress_reset"  # the course of an order starts again from the beginning


class CompensationStatus(StrEnum):
    ISSUING = "issuing"  # granted; the school's commerce system is being told
    AWAITING_APPROVAL = "awaiting_approval"  # beyond the agent's quota: a lead decides
    DECLINED = "declined"
    ISSUED = "issued"
    FAILED = "failed"  # the commerce system refused it; nothing was given


class Authority(StrEnum):
    QUOTA = "quota"  # the agent's own quota
    LEAD = "lead"  # a lead's approval


class QuotaPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def start(self, at: datetime) -> datetime:
        """The beginning of the period containing `at`, by the school's (Beijing) calendar."""
        local = at.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        if self is QuotaPeriod.WEEK:
            local -= timedelta(days=local.weekday())
        elif self is QuotaPeriod.MONTH:
            local = local.replace(day=1)
        return local


class CompensationQuota(BaseModel):
    """What one person of a role may grant on their own in one period."""

    role: Role
    period: QuotaPeriod
    coupon_fen: int = Field(ge=0, le=100 * MAX_COUPON_FEN)
    progress_resets: int = Field(ge=0, le=1000)


COMPENSATING_ROLES = frozenset({Role.AGENT, Role.LEAD})
DEFAULT_QUOTAS = {
    Role.AGENT: CompensationQuota(
        role=Role.AGENT, period=QuotaPeriod.DAY, coupon_fen=5_000, progress_resets=3
    ),
    Role.LEAD: CompensationQuota(
        role=Role.LEAD, period=QuotaPeriod.DAY, coupon_fen=50_000, progress_resets=20
    ),
}


class CompensationOffer(BaseModel):
    """What an agent offers the student, as the complaint workflow receives it."""

    kind: CompensationKind
    amount_fen: int | None = Field(default=None, ge=1, le=MAX_COUPON_FEN)
    order_id: str | None = Field(default=None, max_length=64)  # whose course is reset
    course_name: str | None = None  # that order's course, for the notices
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    by: str
    by_name: str
    by_role: Role

    @model_validator(mode="after")
    def _what_each_kind_needs(self) -> CompensationOffer:
        if self.kind is CompensationKind.COUPON and self.amount_fen is None:
            raise ValueError("a coupon needs amount_fen")
        resets = self.kind is CompensationKind.PROGRESS_RESET
        if resets and (self.amount_fen is not None or not self.order_id):
            raise ValueError("a progress reset names the order whose course restarts, and no amount")
        return self


class QuotaUse(BaseModel):
    """What a person has granted on their own this period, and may still grant."""

    period: QuotaPeriod
    period_start: datetime
    coupon_fen_used: int
    coupon_fen_left: int
    progress_resets_used: int
    progress_resets_left: int

    def covers(self, offer: CompensationOffer) -> bool:
        if offer.kind is CompensationKind.COUPON:
            return (offer.amount_fen or 0) <= self.coupon_fen_left
        return self.progress_resets_left >= 1


class CompensationReservation(BaseModel):
    """The complaint workflow asks the ledger to book an offer against the agent's quota."""

    compensation_id: str
    complaint_id: str
    student_id: str
    offer: CompensationOffer
    at: datetime


class CompensationTicket(BaseModel):
    """The reserved compensation: issued on the agent's quota, or waiting for a lead."""

    compensation_id: str
    status: CompensationStatus
    quota: QuotaUse


class CompensationDecision(BaseModel):
    compensation_id: str
    approve: bool
    note: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""
    by: str
    by_name: str


class CompensationIssue(BaseModel):
    """What the commerce system is asked to give, keyed by the compensation id (its idempotency key)."""

    compensation_id: str
    kind: CompensationKind
    student_id: str
    amount_fen: int | None
    order_id: str | None
    reason: str


class CompensationOutcome(BaseModel):
    compensation_id: str
    status: CompensationStatus
    external_ref: str | None = None  # the coupon code, or the commerce system's reset reference
    failure: str | None = None
    decided_by: str | None = None
    decision_note: str | None = None
    at: datetime
