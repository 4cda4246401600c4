"""Refund statuses and the typed messages between the API, RefundWorkflow and its activities."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from domain.courses import CourseType, Gateway
from domain.notifications import Channel, QuietHours, Recipient
from domain.policy import Eligibility, RefundPolicy
from domain.text import NO_CONTROL_CHARACTERS


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    # Premium and high-value refunds: an account manager phones the student before money moves.
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    # Sent to the payment gateway; only its verified result moves it on.
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    REJECTED = "rejected"
    # The student withdrew the request on the manager's call: nothing moved.
    WITHDRAWN = "withdrawn"
    REFUND_FAILED = "refund_failed"


# Statuses after which the order may be asked about again: nothing moved (rejected), or the money
# is settled and counted as refunded. A failed refund keeps the order locked until finance has
# found out where the money is.
RELEASES_ORDER = frozenset({RefundStatus.REFUNDED, RefundStatus.REJECTED, RefundStatus.WITHDRAWN})
# Before a decision exists, a reviewer may decide (the update's validator allows it).
DECIDABLE_STATUSES = frozenset({RefundStatus.REQUESTED, RefundStatus.AWAITING_REVIEW})
# Statuses a refund reaches only after a reviewer approved it (the manager's call, the gateway and
# finance come later): the monthly report counts these as approvals.
APPROVED_STATUSES = frozenset(
    {
        RefundStatus.APPROVED,
        RefundStatus.AWAITING_CONFIRMATION,
        RefundStatus.REFUNDING,
        RefundStatus.REFUND_FAILED,
        RefundStatus.WITHDRAWN,
        RefundStatus.REFUNDED,
    }
)
# Who decided a refund the policy rejected at once (`decided_by`, and the step's actor): no reviewer.
POLICY_DECIDER = "policy"


def refund_workflow_id(refund_id: str) -> str:
    return f"refund-{refund_id}"


class StudentSnapshot(BaseModel):
    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    locale: str = "zh-CN"
    muted_channels: list[Channel] = Field(default_factory=list)
    wechat_openid: str | None = None  # the mini-program's (subscribe messages)
    wechat_oa_openid: str | None = None  # the Official Account's (customer-service messages)


class CourseSnapshot(BaseModel):
    id: str
    name: str
    type: CourseType
    starts_at: datetime | None = None


class RefundRequest(BaseModel):
    """RefundWorkflow's input: ids plus the snapshots the refund is judged by, never live rows."""

    refund_id: str
    order_id: str
    student: StudentSnapshot
    course: CourseSnapshot
    reason: str
    requested_at: datetime
    amount_paid_fen: int
    requested_fen: int
    fee_fen: int
    refund_amount_fen: int
    gateway: Gateway
    gateway_trade_no: str
    policy: RefundPolicy
    eligibility: Eligibility
    # Why the policy refuses or flags it, in the student's words (set unless eligible).
    ineligible_reason_text: str | None = None
    needs_manager_confirmation: bool = False
    # The school's SMS quiet hours when the refund was requested; None: SMS at any hour.
    sms_quiet_hours: QuietHours | None = QuietHours()

    @property
    def notice_channels(self) -> list[Channel]:
        return self.policy.notice_channels


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewDecision(BaseModel):
    decision: Decision
    reason: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""
    reviewer_id: str
    reviewer_name: str

    @model_validator(mode="after")
    def _rejection_needs_reason(self) -> ReviewDecision:
        check_decision_reason(self.decision, self.reason)
        return self


def check_decision_reason(decision: Decision, reason: str) -> None:
    if decision is Decision.REJECT and not reason.strip():
        raise ValueError("a rejection needs a reason the student can read")


class ConfirmationOutcome(StrEnum):
    CONFIRMED = "confirmed"  # the student still wants the refund: money may move
    WITHDRAWN = "withdrawn"  # the student changed their mind on the call


class ManagerConfirmation(BaseModel):
    """What the account manager reports after phoning the student."""

    outcome: ConfirmationOutcome
    note: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    manager_id: str
    manager_name: str


class DecisionReceipt(BaseModel):
    refund_id: str
    status: RefundStatus
    # The workflow took the action (durably: it is in its history) but had not recorded it when the
    # API stopped waiting, behind a backlog. `status` is then the one before; the same request sent
    # again answers with the settled status.
    being_recorded: bool = False


class GatewayOutcome(StrEnum):
    PROCESSING = "processing"
    SUCCESS = "success"
    ABNORMAL = "abnormal"
    CLOSED = "closed"


class GatewayRefundOrder(BaseModel):
    """What the payments activity asks a gateway to do; refund_id is the idempotency key
    (out_refund_no) sent on every retry."""

    refund_id: str
    order_id: str
    gateway: Gateway
    gateway_trade_no: str
    refund_fen: int
    total_fen: int
    reason: str


class GatewayRefundResult(BaseModel):
    """A gateway's word on a refund, from a verified callback or from its query API."""

    refund_id: str
    gateway_refund_id: str | None = None
    outcome: GatewayOutcome
    refund_fen: int
    total_fen: int
    succeeded_at: AwareDatetime | None = None
    source: str = "callback"


class RefundEvent(BaseModel):
    """One step of a refund, written to the projection and the audit trail by the records activity.
    event_key is unique per refund step, so a retried write is a no-op."""

    refund_id: str
    event_key: str
    event: str
    status: RefundStatus
    at: datetime
    actor: str
    note: str = ""
    # Projection fields this step settles; None leaves the stored value alone.
    decision_reason: str | None = None
    decided_by: str | None = None
    gateway_refund_id: str | None = None
    review_group: str | None = None
    assigned_reviewer_id: str | None = None
    review_due_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AssignmentRequest(BaseModel):
    refund_id: str
    student_id: str
    course_type: CourseType
    refund_amount_fen: int


class Assignment(BaseModel):
    """Who reviews a refund: the group its routing rules name, the reviewer picked in it (None when
    the group has nobody yet: its leads decide), and the lead to escalate to."""

    group_id: str | None
    reviewer: Recipient | None
    lead: Recipient | None
    # The group's name, as staff know it (the Temporal UI says it); None in histories from before.
    group_name: str | None = None

    @property
    def group_label(self) -> str:
        return self.group_name or self.group_id or "—"


class EnrollmentRevocation(BaseModel):
    refund_id: str
    order_id: str
    student_id: str
    course_id: str


class GatewayQuery(BaseModel):
    refund_id: str
    gateway: Gateway


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    status: RefundStatus
    actor: str
    note: str = ""


class RefundState(BaseModel):
    """What RefundWorkflow returns when it ends (and its `state` query): the status and every step."""

    refund_id: str
    status: RefundStatus
    timeline: list[TimelineEntry]


class RefundProgress(BaseModel):
    """RefundWorkflow's `status` query: where a refund stands now and who or what it waits for —
    the API's live view, and the same words the Temporal UI shows as current details."""

    refund_id: str
    status: RefundStatus
    details: str  # the sentence, e.g. "Awaiting review by 李老师 (group regular-courses), due …"
    review_group: str | None = None
    assigned_to: str | None = None  # the reviewer, the lead after an escalation, or "finance"
    due_at: datetime | None = None  # the review's due time; while refunding, when the callback is late
    sla_breached: bool = False  # the review went past its due time
    finance_task_id: str | None = None
    steps: int  # steps recorded so far


# After a refund is sent, wait this long for the gateway's callback before asking its query API,
# and back off like this between later questions (minutes). The last value repeats.
GATEWAY_POLL_MINUTES = (1, 5, 10, 20, 30)
# A refund the gateway took but has not settled this long after is stuck: its `SlaDueAt` says when,
# so support finds it with `RefundStatus = 'refunding' AND SlaDueAt < <now>` (docs/operations.md).
# WeChat Pay and Alipay settle most refunds within minutes.
GATEWAY_SETTLES_WITHIN = timedelta(minutes=30)


def gateway_poll_minutes() -> Iterator[int]:
    yield from GATEWAY_POLL_MINUTES
    while True:
        yield GATEWAY_POLL_MINUTES[-1]
