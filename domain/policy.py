"""Refund policies: which refunds a course type allows, when, at what fee, and who must be told.

Policies are data: an admin edits them, every edit is a new version, and each refund keeps the
version it was judged by. The defaults come from the school's published policy (the source
articles): trial — any time before the course starts, no fee; regular — until 7 days after it
starts, 10% fee; premium — per the contract stored on the order, with an account manager's phone
confirmation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from domain.courses import CourseType
from domain.money import BASIS_POINTS_PER_WHOLE, fee_for
from domain.notifications import STUDENT_CHANNELS, Channel
from domain.timeutil import shanghai_text


class RefundWindow(StrEnum):
    BEFORE_START = "before_start"  # any time before the course starts
    DAYS_AFTER_START = "days_after_start"  # until window_days after the course starts
    PER_CONTRACT = "per_contract"  # deadline and fee are terms of the order's contract


class OutsideWindow(StrEnum):
    """What happens to a request made after the window closed."""

    REJECT = "reject"  # rejected at once, with the reason
    MANUAL_REVIEW = "manual_review"  # goes to a reviewer, flagged as an exception


class PolicyTerms(BaseModel):
    """What an admin edits. Validation here is what `PUT /api/policies/{course_type}` answers 422 with."""

    window: RefundWindow
    window_days: Annotated[int, Field(ge=0, le=365)] | None = None
    fee_bp: Annotated[int, Field(ge=0, le=BASIS_POINTS_PER_WHOLE)] | None = None
    notice_channels: list[Channel] = Field(min_length=1)
    outside_window: OutsideWindow = OutsideWindow.REJECT
    # Premium courses: an account manager phones the student after approval, before money moves.
    manager_confirmation: bool = False
    # Any refund of at least this much needs the same phone confirmation (None: no threshold).
    manager_confirmation_from_fen: Annotated[int, Field(gt=0)] | None = None
    # While a manager's call is awaited, how often to remind the team.
    confirmation_reminder_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24
    review_reminder_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24
    review_escalation_hours: Annotated[int, Field(ge=1, le=24 * 60)] = 48

    @model_validator(mode="after")
    def _consistent(self) -> PolicyTerms:
        if self.window is RefundWindow.DAYS_AFTER_START and self.window_days is None:
            raise ValueError("window_days is required when the window is days_after_start")
        if self.window is not RefundWindow.DAYS_AFTER_START and self.window_days is not None:
            raise ValueError("window_days applies only to the days_after_start window")
        if self.window is RefundWindow.PER_CONTRACT and self.fee_bp is not None:
            raise ValueError("a per_contract policy takes its fee from the contract; leave fee_bp empty")
        if self.window is not RefundWindow.PER_CONTRACT and self.fee_bp is None:
            raise ValueError("fee_bp is required unless the policy is per_contract")
        if not set(self.notice_channels) <= set(STUDENT_CHANNELS):
            raise ValueError("students are told by inbox, email or sms; staff chat is for the team")
        if Channel.INBOX not in self.notice_channels:
            raise ValueError("the in-app inbox is always among the notice channels")
        if len(set(self.notice_channels)) != len(self.notice_channels):
            raise ValueError("a notice channel is listed twice")
        if self.review_escalation_hours <= self.review_reminder_hours:
            raise ValueError("escalation must come after the reminder")
        return self


class RefundPolicy(PolicyTerms):
    """One stored version of a course type's policy; refunds keep the one they were judged by."""

    course_type: CourseType
    version: int


DEFAULT_POLICIES: dict[CourseType, PolicyTerms] = {
    CourseType.TRIAL: PolicyTerms(
        window=RefundWindow.BEFORE_START,
        fee_bp=0,
        notice_channels=[Channel.INBOX, Channel.EMAIL],
    ),
    CourseType.REGULAR: PolicyTerms(
        window=RefundWindow.DAYS_AFTER_START,
        window_days=7,
        fee_bp=1_000,
        notice_channels=[Channel.INBOX, Channel.EMAIL, Channel.SMS],
        manager_confirmation_from_fen=500_000,
    ),
    CourseType.PREMIUM: PolicyTerms(
        window=RefundWindow.PER_CONTRACT,
        notice_channels=[Channel.INBOX, Channel.EMAIL],
        outside_window=OutsideWindow.MANUAL_REVIEW,
        manager_confirmation=True,
    ),
}


class ContractTerms(BaseModel):
    """Refund terms agreed in a premium course's contract, stored on the order."""

    refund_deadline: datetime | None = None
    fee_bp: Annotated[int, Field(ge=0, le=BASIS_POINTS_PER_WHOLE)] | None = None


class Eligibility(StrEnum):
    ELIGIBLE = "eligible"
    EXCEPTION = "exception"  # outside the rules, but a reviewer may still approve
    INELIGIBLE = "ineligible"


class IneligibleReason(StrEnum):
    OUTSIDE_WINDOW = "outside_window"
    CONTRACT_TERMS_MISSING = "contract_terms_missing"
    NOTHING_LEFT = "nothing_left"


class RefundQuote(BaseModel):
    """What a refund of this order would be, judged now by the policy."""

    eligibility: Eligibility
    reason: IneligibleReason | None = None
    window_ends_at: datetime | None = None
    amount_paid_fen: int
    already_refunded_fen: int
    refundable_fen: int
    requested_fen: int
    fee_bp: int
    fee_fen: int
    refund_amount_fen: int
    needs_manager_confirmation: bool
    policy_version: int


def window_end(
    policy: PolicyTerms, *, course_starts_at: datetime | None, contract: ContractTerms | None
) -> datetime | None:
    """The last moment a refund is within the rules; None when the rules set no end."""
    if policy.window is RefundWindow.PER_CONTRACT:
        return contract.refund_deadline if contract else None
    if course_starts_at is None:
        return None
    if policy.window is RefundWindow.BEFORE_START:
        return course_starts_at
    return course_starts_at + timedelta(days=policy.window_days or 0)


def quote_refund(
    policy: RefundPolicy,
    *,
    course_starts_at: datetime | None,
    contract: ContractTerms | None,
    amount_paid_fen: int,
    already_refunded_fen: int,
    requested_fen: int | None,
    now: datetime,
) -> RefundQuote:
    """Judge a request. requested_fen is the part of what was paid the student wants back (None:
    all that is left); the fee is taken from that part. Raises ValueError for a request of more than
    is left or of nothing."""
    refundable = max(amount_paid_fen - already_refunded_fen, 0)
    if requested_fen is not None and not 0 < requested_fen <= refundable:
        raise ValueError(f"the amount must be between 1 and {refundable} fen, what is left to refund")
    requested = refundable if requested_fen is None else requested_fen

    contract_missing = policy.window is RefundWindow.PER_CONTRACT and (
        contract is None or contract.refund_deadline is None or contract.fee_bp is None
    )
    if policy.window is RefundWindow.PER_CONTRACT:
        fee_bp = contract.fee_bp if contract and contract.fee_bp is not None else 0
    else:
        fee_bp = policy.fee_bp or 0
    ends = window_end(policy, course_starts_at=course_starts_at, contract=contract)
    if policy.window is RefundWindow.BEFORE_START:
        within = ends is None or now < ends
    else:
        within = ends is None or now <= ends

    reason: IneligibleReason | None = None
    eligibility = Eligibility.ELIGIBLE
    if refundable == 0:
        eligibility, reason = Eligibility.INELIGIBLE, IneligibleReason.NOTHING_LEFT
    elif contract_missing:
        eligibility, reason = Eligibility.EXCEPTION, IneligibleReason.CONTRACT_TERMS_MISSING
    elif not within:
        reason = IneligibleReason.OUTSIDE_WINDOW
        eligibility = (
            Eligibility.EXCEPTION
            if policy.outside_window is OutsideWindow.MANUAL_REVIEW
            else Eligibility.INELIGIBLE
        )

    fee = fee_for(requested, fee_bp)
    refund = requested - fee
    threshold = policy.manager_confirmation_from_fen
    return RefundQuote(
        eligibility=eligibility,
        reason=reason,
        window_ends_at=ends,
        amount_paid_fen=amount_paid_fen,
        already_refunded_fen=already_refunded_fen,
        refundable_fen=refundable,
        requested_fen=requested,
        fee_bp=fee_bp,
        fee_fen=fee,
        refund_amount_fen=refund,
        needs_manager_confirmation=policy.manager_confirmation
        or (threshold is not None and refund >= threshold),
        policy_version=policy.version,
    )


_REASON_TEXTS: dict[IneligibleReason, dict[str, str]] = {
    IneligibleReason.OUTSIDE_WINDOW: {
        "zh-CN": "很抱歉，本课程的退款期限已于 {ends} 结束",
        "en": "the refund period for this course ended on {ends}",
    },
    IneligibleReason.CONTRACT_TERMS_MISSING: {
        "zh-CN": "您的合同退款条款需要由专人核对",
        "en": "the refund terms of your contract need to be checked by a member of staff",
    },
    IneligibleReason.NOTHING_LEFT: {
        "zh-CN": "该订单已全部退款",
        "en": "this order has already been refunded in full",
    },
}


def reason_text(reason: IneligibleReason, *, window_ends_at: datetime | None, locale: str) -> str:
    """The reason in words the student reads (zh-CN unless the student chose English)."""
    texts = _REASON_TEXTS[reason]
    ends = shanghai_text(window_ends_at) if window_ends_at else "—"
    return texts.get(locale, texts["zh-CN"]).format(ends=ends)
