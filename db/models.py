"""Tables. Refunds here are a projection for lists and detail pages; the workflow is the truth while
a refund runs, and writes every step here through the records activity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime
from domain.timeutil import utcnow


def _utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=64)
    # None for a customer known only by phone or WeChat (api/services/customers.py creates them).
    email: str | None = Field(default=None, unique=True, index=True, max_length=254)
    display_name: str = Field(max_length=100)
    role: str = Field(index=True, max_length=20)
    # None: no usable password (a customer created from a channel); login always fails.
    password_hash: str | None = Field(default=None, max_length=255)
    locale: str = Field(default="zh-CN", max_length=10)
    phone: str | None = Field(default=None, index=True, max_length=32)
    is_vip: bool = False  # routed to the VIP desk
    # Channels the user muted for notices that are not about their money (domain.notifications).
    muted_channels: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # The mini-program's openid (subscribe messages go there; PUT /api/me/wechat binds it).
    wechat_openid: str | None = Field(default=None, index=True, max_length=64)
    # The Official Account's openid: the FromUserName of the messages the student sends the school.
    wechat_oa_openid: str | None = Field(default=None, unique=True, index=True, max_length=64)
    is_active: bool = True
    # Set when an agent merged this record into another: that one is the customer now.
    merged_into: str | None = Field(default=None, foreign_key="users.id", index=True, max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)


class Course(SQLModel, table=True):
    __tablename__ = "courses"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    type: str = Field(max_length=20)
    starts_at: datetime | None = _utc(default=None, nullable=True)
    updated_at: datetime = _utc(default_factory=utcnow)


class Order(SQLModel, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True, max_length=64)
    student_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    course_id: str = Field(foreign_key="courses.id", index=True, max_length=64)
    amount_paid_fen: int
    paid_at: datetime = _utc(index=True)  # the monthly report counts orders by it
    gateway: str = Field(max_length=20)
    gateway_trade_no: str = Field(max_length=64)
    # Premium courses: the refund terms of the contract (see domain.policy.ContractTerms).
    contract_refund_deadline: datetime | None = _utc(default=None, nullable=True)
    contract_fee_bp: int | None = None
    updated_at: datetime = _utc(default_factory=utcnow)


class RefundPolicyVersion(SQLModel, table=True):
    """Every version of every course type's refund policy; the highest version is in force."""

    __tablename__ = "refund_policies"
    __table_args__ = (UniqueConstraint("course_type", "version", name="uq_refund_policies_type_version"),)

    id: int | None = Field(default=None, primary_key=True)
    course_type: str = Field(max_length=20)
    version: int
    terms: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # domain.policy.PolicyTerms
    created_by: str = Field(max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)


class ReviewerGroup(SQLModel, table=True):
    __tablename__ = "reviewer_groups"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)


class ReviewerGroupMember(SQLModel, table=True):
    __tablename__ = "reviewer_group_members"

    group_id: str = Field(foreign_key="reviewer_groups.id", primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=64)


class RoutingRuleRow(SQLModel, table=True):
    """domain.routing.RoutingRule, stored: tried in priority order, the first match names the group."""

    __tablename__ = "routing_rules"

    id: int | None = Field(default=None, primary_key=True)
    priority: int = Field(unique=True)
    group_id: str = Field(foreign_key="reviewer_groups.id", max_length=40)
    course_type: str | None = Field(default=None, max_length=20)
    min_amount_fen: int | None = None
    vip_only: bool = False


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_status_requested", "status", "requested_at"),
        Index("ix_refunds_queue", "status", "review_group", "review_due_at"),
        Index("ix_refunds_requested_at", "requested_at"),  # the monthly report
    )

    id: str = Field(primary_key=True, max_length=32)
    workflow_id: str = Field(unique=True, max_length=64)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=64)
    # Equals order_id while the refund is in progress and NULL once it ends: the unique index makes
    # "one refund in progress per order" hold even under concurrent requests.
    active_order_id: str | None = Field(default=None, unique=True, max_length=64)
    student_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    course_id: str = Field(max_length=64)
    course_name: str = Field(max_length=200)
    course_type: str = Field(max_length=20)
    gateway: str = Field(max_length=20)
    status: str = Field(max_length=32)
    reason: str = Field(max_length=2000)
    # The student's pick from domain.refund_reasons.RefundReasonCode (None: asked before there was one).
    reason_code: str | None = Field(default=None, max_length=30)
    amount_paid_fen: int
    # The part of what was paid this refund returns (all of it unless the student asked for less);
    # the fee is taken from it: requested_fen = refund_amount_fen + fee_fen.
    requested_fen: int
    fee_fen: int
    refund_amount_fen: int
    eligibility: str = Field(max_length=20)
    ineligible_reason: str | None = Field(default=None, max_length=40)
    needs_manager_confirmation: bool = False
    policy_version: int
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # domain.policy.RefundPolicy
    review_group: str | None = Field(default=None, max_length=40)
    assigned_reviewer_id: str | None = Field(default=None, index=True, max_length=64)
    assigned_at: datetime | None = _utc(default=None, nullable=True)
    # When the review is due (the escalation time of the policy's review SLA).
    review_due_at: datetime | None = _utc(default=None, nullable=True)
    decision_reason: str | None = Field(default=None, max_length=1000)
    decided_by: str | None = Field(default=None, max_length=64)
    gateway_refund_id: str | None = Field(default=None, max_length=64)
    requested_at: datetime = _utc()
    decided_at: datetime | None = _utc(default=None, nullable=True)
    refunded_at: datetime | None = _utc(default=None, nullable=True)
    updated_at: datetime = _utc(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only: one row per step of a case. event_key makes a retried write a no-op. Each case's
    events are numbered (seq) and hash-chained (domain/audit_chain.py); write them only through
    db.audit_log.append_event."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("event_key", name="uq_audit_events_event_key"),
        # One event per place in a case's chain: two writers racing for the same place cannot both win.
        UniqueConstraint("case_type", "case_id", "seq", name="uq_audit_events_case_seq"),
        # /metrics counts a few kinds of event (SLA warnings and breaches) among millions.
        Index("ix_audit_events_event", "event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=160)
    case_type: str = Field(max_length=20)
    case_id: str = Field(max_length=64)
    event: str = Field(max_length=64)
    actor: str = Field(max_length=64)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=2000)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = _utc()
    seq: int = 0  # 1, 2, 3… within the case, in the order recorded
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(default="", max_length=64)


class Notification(SQLModel, table=True):
    """Every notice sent, with its rendered copy: the school's proof of what a student was told."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_inbox", "recipient_user_id", "channel", "created_at"),
        Index("ix_notifications_status", "status", "channel"),  # /metrics: the undelivered ones
    )

    # Deterministic (workflow, event, channel): one row per notice however often it is retried.
    id: str = Field(primary_key=True, max_length=160)
    case_type: str = Field(max_length=20)
    case_id: str = Field(index=True, max_length=64)
    event: str = Field(max_length=64)
    channel: str = Field(max_length=20)
    recipient_user_id: str = Field(max_length=64)
    recipient_address: str | None = Field(default=None, max_length=254)
    locale: str = Field(max_length=10)
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str | None = None
    status: str = Field(max_length=20)
    attempts: int = 0
    provider_response: str | None = Field(default=None, max_length=1000)
    # The notification this one replaces, after that one's channel refused it for good.
    fallback_of: str | None = Field(default=None, max_length=200)
    # Which template wrote it, and which version of it (0: the shipped default).
    template: str | None = Field(default=None, max_length=120)
    template_version: int | None = None
    created_at: datetime = _utc(default_factory=utcnow)
    sent_at: datetime | None = _utc(default=None, nullable=True)
    read_at: datetime | None = _utc(default=None, nullable=True)


class FinanceTask(SQLModel, table=True):
    """A refund the gateway could not complete, waiting for the finance team (domain/finance.py)."""

    __tablename__ = "finance_tasks"
    __table_args__ = (Index("ix_finance_tasks_queue", "status", "opened_at"),)

    id: str = Field(primary_key=True, max_length=48)  # FT-<refund id>-<attempt>
    refund_id: str = Field(foreign_key="refunds.id", index=True, max_length=32)
    kind: str = Field(max_length=32)
    status: str = Field(max_length=20)
    detail: str = Field(default="", max_length=2000)  # what the gateway said
    opened_at: datetime = _utc(default_factory=utcnow)
    outcome: str | None = Field(default=None, max_length=32)
    reference: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=1000)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = _utc(default=None, nullable=True)


class WebhookSubscription(SQLModel, table=True):
    """An integrator's endpoint and the event types it wants (domain/webhooks.py)."""

    __tablename__ = "webhook_subscriptions"

    id: str = Field(primary_key=True, max_length=40)
    url: str = Field(max_length=500)
    # Shared with the subscriber to sign deliveries, so it is stored as given, not hashed.
    secret: str = Field(max_length=100)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", max_length=200)
    active: bool = True
    created_by: str = Field(max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event to one subscriber: the log of what was sent, when, and what the subscriber said."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=200)  # <event id>:<subscription id>
    subscription_id: str = Field(foreign_key="webhook_subscriptions.id", max_length=40)
    event_id: str = Field(index=True, max_length=160)
    event_type: str = Field(max_length=64)
    case_type: str = Field(max_length=20)
    case_id: str = Field(index=True, max_length=64)
    body: str  # the exact JSON sent, so every retry is signed over the same bytes
    status: str = Field(max_length=20)
    attempts: int = 0
    response_status: int | None = None
    response_excerpt: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc(default_factory=utcnow)
    delivered_at: datetime | None = _utc(default=None, nullable=True)


class NoticeTemplateVersion(SQLModel, table=True):
    """An admin's edit of a notice template; the highest version is in force. source None means
    "back to the shipped default" (templates/notifications/<name>)."""

    __tablename__ = "notice_template_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_notice_template_versions_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=120)  # e.g. refund_approved.all.zh-CN.j2
    version: int
    source: str | None = None
    note: str = Field(default="", max_length=500)
    created_by: str = Field(max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)


class DepartmentMember(SQLModel, table=True):
    """Who works a department's complaint queue (domain.complaints.Department)."""

    __tablename__ = "department_members"

    department: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=64)


class Complaint(SQLModel, table=True):
    """Projection of a ComplaintWorkflow for lists and detail pages; the workflow writes every step."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_queue", "department", "stage", "first_response_due_at"),
        Index("ix_complaints_received_at", "received_at"),  # the monthly report
    )

    id: str = Field(primary_key=True, max_length=32)
    workflow_id: str = Field(unique=True, max_length=64)
    student_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    channel: str = Field(max_length=20)
    text: str = Field(max_length=4000)
    order_id: str | None = Field(default=None, max_length=64)
    logged_by: str = Field(max_length=64)
    stage: str = Field(max_length=20)
    category: str | None = Field(default=None, max_length=20)
    severity: str | None = Field(default=None, max_length=10)
    department: str | None = Field(default=None, max_length=32)
    assigned_to: str | None = Field(default=None, index=True, max_length=64)
    first_response_due_at: datetime | None = _utc(default=None, nullable=True)
    resolution_due_at: datetime | None = _utc(default=None, nullable=True)
    first_responded_at: datetime | None = _utc(default=None, nullable=True)
    resolved_at: datetime | None = _utc(default=None, nullable=True)
    resolution_code: str | None = Field(default=None, max_length=32)
    resolution_summary: str | None = Field(default=None, max_length=1000)
    satisfied: bool | None = None
    sla_breached: bool = False
    # A lead's tag of what lay behind it ("app crash on Huawei P30"), for the monthly report.
    root_cause: str | None = Field(default=None, max_length=120)
    root_cause_by: str | None = Field(default=None, max_length=64)
    root_cause_at: datetime | None = _utc(default=None, nullable=True)
    received_at: datetime = _utc()
    updated_at: datetime = _utc(default_factory=utcnow)


class ComplaintSlaTermsRow(SQLModel, table=True):
    """The SLA in force for one complaint category (domain.complaints.SlaTerms): admins edit it, and
    each new complaint snapshots the table when it is filed (db/sla_store.py)."""

    __tablename__ = "complaint_sla_terms"

    category: str = Field(primary_key=True, max_length=20)
    first_response_minutes: int
    resolution_minutes: int
    department: str = Field(max_length=32)
    business_hours_only: bool = False
    updated_by: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _utc(default_factory=utcnow)


class CompensationQuotaRow(SQLModel, table=True):
    """What one person of a role may grant on their own per period (domain.compensation)."""

    __tablename__ = "compensation_quotas"

    role: str = Field(primary_key=True, max_length=20)
    period: str = Field(max_length=10)
    coupon_fen: int
    progress_resets: int
    updated_by: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _utc(default_factory=utcnow)


class Compensation(SQLModel, table=True):
    """A coupon or a progress reset offered on a complaint: who offered it, on whose authority,
    and what became of it. The quota is counted from these rows."""

    __tablename__ = "compensations"
    __table_args__ = (Index("ix_compensations_quota", "requested_by", "authority", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    complaint_id: str = Field(foreign_key="complaints.id", index=True, max_length=32)
    student_id: str = Field(foreign_key="users.id", max_length=64)
    kind: str = Field(max_length=20)
    amount_fen: int | None = None
    order_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=1000)
    requested_by: str = Field(foreign_key="users.id", max_length=64)
    authority: str = Field(max_length=10)
    status: str = Field(index=True, max_length=20)
    decided_by: str | None = Field(default=None, max_length=64)
    decision_note: str | None = Field(default=None, max_length=1000)
    external_ref: str | None = Field(default=None, max_length=200)
    failure: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class IntakeMessage(SQLModel, table=True):
    """One message taken from an intake channel (an email, a WeChat message, a chat transcript),
    keyed by the channel's own id for it: a second delivery finds this row and changes nothing."""

    __tablename__ = "intake_messages"

    # <channel>:<Message-ID | MsgId | chat id>, or web_form:<student id>:<the form's key>
    id: str = Field(primary_key=True, max_length=200)
    channel: str = Field(max_length=20)
    student_id: str = Field(max_length=64)
    complaint_id: str = Field(foreign_key="complaints.id", index=True, max_length=32)
    # What the message became: "complaint" (it opened one) or "message" (added to an open one).
    outcome: str = Field(max_length=20)
    received_at: datetime = _utc(default_factory=utcnow)


class DecisionReason(SQLModel, table=True):
    """A reason reviewers pick from when they approve or reject a refund (admins keep the list);
    the student reads it, so it is written for them."""

    __tablename__ = "decision_reasons"

    id: int | None = Field(default=None, primary_key=True)
    decision: str = Field(index=True, max_length=10)
    text: str = Field(max_length=200)
    position: int = 0
    is_active: bool = True
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)


class ImprovementAction(SQLModel, table=True):
    """What the school will do about a category's complaints in a month (the report's last column),
    written and edited by leads."""

    __tablename__ = "improvement_actions"
    __table_args__ = (Index("ix_improvement_actions_month", "month", "category"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7)  # domain.report_month.ReportMonth, "2026-03"
    category: str = Field(max_length=20)
    root_cause: str | None = Field(default=None, max_length=120)
    action: str = Field(max_length=1000)
    owner: str | None = Field(default=None, max_length=100)
    status: str = Field(default="planned", max_length=20)
    created_by: str = Field(max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = _utc(default_factory=utcnow)
