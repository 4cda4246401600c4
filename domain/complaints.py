"""Complaints and after-sales: categories, departments, the SLA table, automatic triage, and the
typed messages between the API, ComplaintWorkflow and its activities.

received → triaged → assigned (a department's queue) → in_progress (first customer-visible reply)
→ resolved → follow_up (a satisfaction survey after a delay; "unsatisfied" reopens) → archived.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from domain.calendar import add_business_time, business_time_between
from domain.compensation import CompensationStatus, QuotaUse
from domain.notifications import Channel, NoticeCount, QuietHours, Recipient
from domain.refunds import CourseSnapshot, StudentSnapshot
from domain.text import NO_CONTROL_CHARACTERS, needs_word_start


class ComplaintCategory(StrEnum):
    TECHNICAL = "technical"  # live class stutters, video won't play, can't log in
    COURSE_CONTENT = "course_content"  # a knowledge point unclear, homework grading
    SERVICE_FEES = "service_fees"  # refund request, invoice, service attitude


class Department(StrEnum):
    TECH_SUPPORT = "tech_support"
    ACADEMIC = "academic"
    CUSTOMER_SERVICE = "customer_service"


class Severity(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    def raised(self) -> Severity:
        order = list(Severity)
        return order[min(order.index(self) + 1, len(order) - 1)]


class IntakeChannel(StrEnum):
    WEB_FORM = "web_form"  # the student's own form
    PHONE = "phone"  # logged by an agent from the hotline
    EMAIL = "email"
    WECHAT = "wechat"
    LIVE_CHAT = "live_chat"


class ComplaintStage(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    AWAITING_CUSTOMER = "awaiting_customer"  # asked the student for information: the clock is paused
    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    ARCHIVED = "archived"


OPEN_STAGES = frozenset(
    {ComplaintStage.ASSIGNED, ComplaintStage.IN_PROGRESS, ComplaintStage.AWAITING_CUSTOMER}
)
AFTER_RESOLUTION = frozenset({ComplaintStage.RESOLVED, ComplaintStage.FOLLOW_UP})
# A student may add to a complaint until it is resolved, even while it is still being triaged:
# on WeChat a second message often follows the first within seconds.
TAKES_CUSTOMER_MESSAGES = OPEN_STAGES | {ComplaintStage.RECEIVED, ComplaintStage.TRIAGED}

# A lead's root-cause tag (the monthly report's) is recorded on the complaint's audit trail.
ROOT_CAUSE_TAGGED = "complaint.root_cause_tagged"
ROOT_CAUSE_CLEARED = "complaint.root_cause_cleared"
# Steps of a complaint only staff see: internal notes and the root-cause tags.
INTERNAL_EVENTS = frozenset({"agent.note", ROOT_CAUSE_TAGGED, ROOT_CAUSE_CLEARED})


class ResolutionCode(StrEnum):
    FIXED = "fixed"
    EXPLAINED = "explained"
    COMPENSATED = "compensated"
    REFUNDED = "refunded"
    NOT_REPRODUCIBLE = "not_reproducible"
    DUPLICATE = "duplicate"


CATEGORY_LABELS = {
    "zh-CN": {"technical": "技术问题", "course_content": "课程内容", "service_fees": "服务与费用"},
    "en": {"technical": "technical", "course_content": "course content", "service_fees": "service & fees"},
}
DEPARTMENT_LABELS = {
    "zh-CN": {"tech_support": "技术支持", "academic": "教研与教师", "customer_service": "客服与财务"},
    "en": {
        "tech_support": "tech support",
        "academic": "academic team",
        "customer_service": "customer service",
    },
}


# The share of a deadline after which the assignee is warned.
WARNING_AT = 0.8


class SlaTerms(BaseModel):
    """How fast a category is answered and settled, and by whom (admins edit them per category:
    table complaint_sla_terms, db/sla_store.py)."""

    first_response_minutes: int = Field(ge=1, le=7 * 24 * 60)
    resolution_minutes: int = Field(ge=1, le=60 * 24 * 60)
    department: Department
    # Count only working hours (09:00–18:00 Beijing on business days) instead of the clock.
    business_hours_only: bool = False

    def deadline(self, start: datetime, minutes: int) -> datetime:
        if self.business_hours_only:
            return add_business_time(start, timedelta(minutes=minutes))
        return start + timedelta(minutes=minutes)

    def left(self, at: datetime, due: datetime) -> timedelta:
        """How much of the deadline is still to run at `at` (what a pause keeps)."""
        if self.business_hours_only:
            return business_time_between(at, due)
        return max(due - at, timedelta(0))

    def after(self, start: datetime, span: timedelta) -> datetime:
        if self.business_hours_only:
            return add_business_time(start, span)
        return start + span

    def warning_time(self, start: datetime, due: datetime) -> datetime:
        """When 80% of the time from start to due has run (of working time, if that is counted)."""
        return self.after(start, self.left(start, due) * WARNING_AT)


# The source articles' terms. Migration 0012 seeds the table with them (written out); they apply to
# a category without a usable row.
DEFAULT_SLA: dict[ComplaintCategory, SlaTerms] = {
    ComplaintCategory.TECHNICAL: SlaTerms(
        first_response_minutes=10, resolution_minutes=2 * 60, department=Department.TECH_SUPPORT
    ),
    ComplaintCategory.COURSE_CONTENT: SlaTerms(
        first_response_minutes=30, resolution_minutes=24 * 60, department=Department.ACADEMIC
    ),
    ComplaintCategory.SERVICE_FEES: SlaTerms(
        first_response_minutes=60, resolution_minutes=48 * 60, department=Department.CUSTOMER_SERVICE
    ),
}


# --- automatic triage ------------------------------------------------------------------------------

# fmt: off
KEYWORDS: dict[ComplaintCategory, tuple[str, ...]] = {
    ComplaintCategory.TECHNICAL: (
        "卡顿", "卡死", "卡住", "黑屏", "白屏", "闪退", "崩溃", "无法播放", "播放不了", "放不出",
        "没声音", "声音断", "听不到", "登录", "登不上", "密码", "验证码", "直播", "回放", "网络", "加载",
        "app", "video", "stream", "lag", "freez", "crash", "login", "log in", "password", "buffer",
    ),
    ComplaintCategory.COURSE_CONTENT: (
        "知识点", "听不懂", "没听懂", "讲得", "讲解", "老师讲", "作业", "批改", "习题", "答案", "课件",
        "教材", "考试", "内容", "进度太快", "homework", "grading", "lesson", "explain", "exercise", "teacher",
    ),
    ComplaintCategory.SERVICE_FEES: (
        "退款", "退费", "发票", "收费", "扣费", "扣款", "价格", "优惠", "态度", "客服", "班主任",
        "不理", "没人回", "合同", "refund", "invoice", "charge", "price", "rude", "attitude", "fee",
    ),
}
URGENT_WORDS = ("12315", "投诉到", "媒体", "曝光", "律师", "起诉", "消协", "lawyer", "sue", "regulator")
HIGH_WORDS = (
    "无法", "不能", "一直", "多次", "好几次", "再次", "还是没", "完全", "全部", "cannot", "can't", "again",
)
# fmt: on


class Triage(BaseModel):
    category: ComplaintCategory
    severity: Severity
    matched: list[str]  # the words that decided it, for the agent who may override


def _mentions(lowered: str, word: str) -> bool:
    if needs_word_start(word):
        return re.search(rf"\b{re.escape(word)}", lowered) is not None
    return word in lowered


def classify(text: str, channel: IntakeChannel) -> Triage:
    """Category by the most keyword hits (ties: technical, then service, then content — the order
    in which a student is hurt most by waiting); none: customer service. Severity from words of
    escalation, and a phone call counts as more pressing than a form."""
    lowered = text.lower()
    hits = {category: [w for w in words if _mentions(lowered, w)] for category, words in KEYWORDS.items()}
    preference = [
        ComplaintCategory.TECHNICAL,
        ComplaintCategory.SERVICE_FEES,
        ComplaintCategory.COURSE_CONTENT,
    ]
    best = max(preference, key=lambda category: (len(hits[category]), -preference.index(category)))
    category = best if hits[best] else ComplaintCategory.SERVICE_FEES
    if any(_mentions(lowered, word) for word in URGENT_WORDS):
        severity = Severity.URGENT
    elif any(_mentions(lowered, word) for word in HIGH_WORDS):
        severity = Severity.HIGH
    else:
        severity = Severity.NORMAL
    if channel is IntakeChannel.PHONE and severity is Severity.NORMAL:
        severity = Severity.HIGH
    return Triage(category=category, severity=severity, matched=hits[category])


# --- workflow input, actions and results ----------------------------------------------------------


def complaint_workflow_id(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"


COMPLAINT_NOTICE_CHANNELS = [Channel.INBOX, Channel.EMAIL, Channel.SMS, Channel.WECHAT, Channel.WECHAT_OA]


class ComplaintRequest(BaseModel):
    """ComplaintWorkflow's input: the student's words and snapshots of what it is judged by."""

    complaint_id: str
    student: StudentSnapshot
    channel: IntakeChannel
    text: str
    order_id: str | None = None
    course: CourseSnapshot | None = None  # the order's course, when the complaint names an order
    received_at: datetime
    logged_by: str  # the student, or the agent who took the call
    # The table's terms when it was filed (api/services/complaints.py); the default serves tests.
    sla: dict[ComplaintCategory, SlaTerms] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    survey_url: str  # where the student answers the follow-up survey
    follow_up_after_minutes: int = 72 * 60  # the follow-up visit, after the resolution
    survey_open_minutes: int = 7 * 24 * 60  # then archived, answered or not
    sms_quiet_hours: QuietHours | None = QuietHours()
    notice_channels: list[Channel] = Field(default_factory=lambda: list(COMPLAINT_NOTICE_CHANNELS))
    # Hand the history on to a new run (continue-as-new) past this many events, or when Temporal
    # suggests it, whichever comes first.
    history_event_limit: int = Field(default=10_000, ge=50)
    carried: ComplaintCarryOver | None = None  # set on a continued run


class ComplaintAssignment(BaseModel):
    department: Department
    agent: Recipient | None  # None: nobody in the department yet; the queue holds it
    lead: Recipient | None


class AgentReply(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=4000), NO_CONTROL_CHARACTERS]
    agent_id: str
    agent_name: str


class AgentNote(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=4000), NO_CONTROL_CHARACTERS]
    agent_id: str


class ComplaintResolution(BaseModel):
    code: ResolutionCode
    summary: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    agent_id: str
    agent_name: str


class SurveyAnswer(BaseModel):
    satisfied: bool
    comment: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""


class Transfer(BaseModel):
    """Hand the complaint to another department (the wrong queue, or a second team needed)."""

    department: Department
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    by: str


class Escalation(BaseModel):
    """An agent asks a lead to take over before any deadline has passed."""

    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    by: str
    by_name: str


class CustomerMessage(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=4000), NO_CONTROL_CHARACTERS]


class Reopening(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    by: str


class ComplaintReceipt(BaseModel):
    complaint_id: str
    stage: ComplaintStage


class VideoInvitation(BaseModel):
    """An agent invites the student into a video support room, now or at a time they agreed."""

    starts_at: datetime | None = None  # None: now
    note: Annotated[str, Field(max_length=500), NO_CONTROL_CHARACTERS] = ""
    by: str
    by_name: str


class VideoRoom(BaseModel):
    provider: str
    room_id: str
    url: str


class VideoInvited(ComplaintReceipt):
    room_url: str


class RefundOnBehalf(BaseModel):
    """A complaint that is a refund request: the agent asks for the refund of the student's order."""

    order_id: str = Field(max_length=64)
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    amount_fen: int | None = Field(default=None, ge=1)  # None: all that is left
    by: str
    by_name: str


class RefundIntake(BaseModel):
    """What the complaint workflow's activity takes in as the student's refund request."""

    student_id: str
    order_id: str
    reason: str
    requested_fen: int | None
    sms_quiet_hours: QuietHours | None


class RefundFollowed(ComplaintReceipt):
    refund_id: str


class CompensationReceipt(ComplaintReceipt):
    compensation_id: str
    status: CompensationStatus
    quota: QuotaUse | None = None  # the offerer's quota after this offer (None: a lead's decision)


class ComplaintEvent(BaseModel):
    """One recorded step: the audit event and the projection's new values (None: unchanged)."""

    complaint_id: str
    event_key: str
    event: str
    stage: ComplaintStage
    at: datetime
    actor: str
    note: str = ""
    category: ComplaintCategory | None = None
    severity: Severity | None = None
    department: Department | None = None
    assigned_to: str | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution_code: ResolutionCode | None = None
    resolution_summary: str | None = None
    satisfied: bool | None = None
    sla_breached: bool | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ComplaintTimelineEntry(BaseModel):
    at: datetime
    event: str
    stage: ComplaintStage
    actor: str
    note: str = ""


class ComplaintState(BaseModel):
    """What ComplaintWorkflow returns when it ends (and its `state` query)."""

    complaint_id: str
    stage: ComplaintStage
    category: ComplaintCategory | None = None
    severity: Severity | None = None
    department: Department | None = None
    assigned_to: str | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    sla_breached: bool = False
    timeline: list[ComplaintTimelineEntry] = Field(default_factory=list)


class ComplaintProgress(BaseModel):
    """ComplaintWorkflow's `status` query: where a complaint stands now — the API's live view, and
    the same words the Temporal UI shows as current details."""

    complaint_id: str
    stage: ComplaintStage
    details: str  # e.g. "Technical complaint, high, with 王工 in tech_support; first response due …"
    category: ComplaintCategory | None = None
    severity: Severity
    department: Department | None = None
    assigned_to: str | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    sla_breached: bool = False
    paused_since: datetime | None = None  # asked the student; the clocks stand still
    steps: int  # steps recorded so far, over every run
    runs: int  # earlier runs this complaint handed its history on from (continue-as-new)


class ComplaintCarryOver(BaseModel):
    """What a complaint's next run takes over when it hands its long history on (continue-as-new).
    Only an open complaint with nothing in flight hands on, so this is all there is to it."""

    stage: ComplaintStage
    steps: int  # steps recorded so far: the next one's number (its audit event key)
    timeline: list[ComplaintTimelineEntry]  # the latest steps; the audit trail keeps all of them
    terms: SlaTerms
    category: ComplaintCategory
    severity: Severity
    assignment: ComplaintAssignment | None
    first_response_due: datetime
    resolution_due: datetime
    first_responded: bool
    resolution_clock_start: datetime  # received, or the latest reopening
    warned: list[str]  # the deadlines whose 80% warning went out
    breached: list[str]  # the deadlines that passed
    sla_breached: bool
    reopened: int
    paused_at: datetime | None
    notices_sent: list[NoticeCount]
    compensation_offers: int
    video_rooms: int
    runs: int  # how many runs before this one handed on


ComplaintRequest.model_rebuild()  # it names ComplaintCarryOver, defined after it
