"""What a workflow asks the notification activities to send."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from domain.timeutil import SHANGHAI


class Channel(StrEnum):
    INBOX = "inbox"
    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"  # mini-program subscribe messages
    # Official Account customer-service messages: within 48 hours of the student's last message to
    # the account. The one channel a customer who only ever wrote to the account can read.
    WECHAT_OA = "wechat_oa"
    # The team's chat rooms (DingTalk, WeCom, Feishu, Slack... through Apprise); never a student's.
    STAFF_CHAT = "staff_chat"


STUDENT_CHANNELS = (Channel.INBOX, Channel.EMAIL, Channel.SMS, Channel.WECHAT, Channel.WECHAT_OA)


class NoticeEvent(StrEnum):
    REFUND_RECEIVED = "refund_received"
    REFUND_APPROVED = "refund_approved"
    REFUND_REJECTED = "refund_rejected"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_DELAYED = "refund_delayed"
    REFUND_MANAGER_CALL = "refund_manager_call"
    REFUND_REVIEW_LATE = "refund_review_late"  # the review went past its due time; a lead has it
    COMPLAINT_RECEIVED = "complaint_received"
    COMPLAINT_FIRST_RESPONSE = "complaint_first_response"
    COMPLAINT_RESOLVED = "complaint_resolved"
    COMPLAINT_FOLLOW_UP = "complaint_follow_up"  # the satisfaction survey after a resolution
    COMPENSATION_GIVEN = "compensation_given"  # a coupon or a course restarted, for a complaint
    VIDEO_INVITATION = "video_invitation"  # an agent asks the student into a video support room
    # To one member of staff, in their in-app inbox.
    REVIEW_REMINDER = "review_reminder"
    REVIEW_ESCALATED = "review_escalated"
    SLA_WARNING = "sla_warning"  # to the assignee, at 80% of a complaint's deadline
    SLA_BREACHED = "sla_breached"  # to the lead (inbox and staff chat) once it has passed
    COMPLAINT_ESCALATED = "complaint_escalated"  # an agent handed it to a lead (inbox and staff chat)
    COMPENSATION_APPROVAL = "compensation_approval"  # beyond an agent's quota: a lead decides
    # To the team, on staff chat.
    TEAM_REVIEW_OVERDUE = "team_review_overdue"
    TEAM_CALL_OVERDUE = "team_call_overdue"  # the account manager's call is still not reported
    TEAM_REFUND_STUCK = "team_refund_stuck"  # the gateway could not pay; a finance task is open
    TEAM_REFUND_PAID = "team_refund_paid"


STAFF_INBOX_EVENTS = frozenset(
    {
        NoticeEvent.REVIEW_REMINDER,
        NoticeEvent.REVIEW_ESCALATED,
        NoticeEvent.SLA_WARNING,
        NoticeEvent.SLA_BREACHED,
        NoticeEvent.COMPLAINT_ESCALATED,
        NoticeEvent.COMPENSATION_APPROVAL,
    }
)
STAFF_CHAT_EVENTS = frozenset(
    {
        NoticeEvent.TEAM_REVIEW_OVERDUE,
        NoticeEvent.TEAM_CALL_OVERDUE,
        NoticeEvent.TEAM_REFUND_STUCK,
        NoticeEvent.TEAM_REFUND_PAID,
        NoticeEvent.SLA_BREACHED,
        NoticeEvent.COMPLAINT_ESCALATED,
        NoticeEvent.COMPENSATION_APPROVAL,
    }
)
STAFF_EVENTS = STAFF_INBOX_EVENTS | STAFF_CHAT_EVENTS
# Staff told that a deadline is near or has passed: sent ahead of other work (workflows/messenger.py).
DEADLINE_NOTICES = frozenset(
    {
        NoticeEvent.REVIEW_REMINDER,
        NoticeEvent.REVIEW_ESCALATED,
        NoticeEvent.TEAM_REVIEW_OVERDUE,
        NoticeEvent.SLA_WARNING,
        NoticeEvent.SLA_BREACHED,
    }
)
COMPLAINT_EVENTS = frozenset(
    {
        NoticeEvent.COMPLAINT_RECEIVED,
        NoticeEvent.COMPLAINT_FIRST_RESPONSE,
        NoticeEvent.COMPLAINT_RESOLVED,
        NoticeEvent.COMPLAINT_FOLLOW_UP,
        NoticeEvent.SLA_WARNING,
        NoticeEvent.SLA_BREACHED,
        NoticeEvent.COMPLAINT_ESCALATED,
        NoticeEvent.COMPENSATION_GIVEN,
        NoticeEvent.COMPENSATION_APPROVAL,
        NoticeEvent.VIDEO_INVITATION,
    }
)


class NoticeCount(BaseModel):
    """How many notices of one event went out on one channel (the next one's number)."""

    event: NoticeEvent
    channel: Channel
    count: int


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    RETRIED = "retried"  # an attempt failed for a reason that may pass; it is tried again
    FAILED = "failed"  # refused for good
    FALLBACK = "fallback"  # refused for good, and sent on another channel instead (fallback_of)


# Notices about a student's money: never muted, whatever the student's preferences say.
MONEY_EVENTS = frozenset(
    {
        NoticeEvent.REFUND_RECEIVED,
        NoticeEvent.REFUND_APPROVED,
        NoticeEvent.REFUND_REJECTED,
        NoticeEvent.REFUND_SUCCEEDED,
        NoticeEvent.REFUND_DELAYED,
        NoticeEvent.REFUND_MANAGER_CALL,
        NoticeEvent.REFUND_REVIEW_LATE,
    }
)
# The inbox is where every notice is kept: it cannot be muted.
MUTABLE_CHANNELS = frozenset(STUDENT_CHANNELS) - {Channel.INBOX}


def channels_for(event: NoticeEvent, policy_channels: list[Channel], muted: list[Channel]) -> list[Channel]:
    """The channels a student notice goes out on: the policy's, less what the student muted —
    unless it is about their money."""
    if event in MONEY_EVENTS:
        return list(policy_channels)
    return [channel for channel in policy_channels if channel not in muted or channel is Channel.INBOX]


# A channel that refuses a notice for good hands it to the other (a dead number → email, a
# bounced address → SMS), unless the student is being told on that channel anyway.
FALLBACK_CHANNEL = {Channel.SMS: Channel.EMAIL, Channel.EMAIL: Channel.SMS}


class QuietHours(BaseModel):
    """Beijing-time hours with no SMS (default 21:00–08:00): a notice due then waits, it is not dropped."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """ "21:00-08:00" → those hours; "" → none."""
        if not text.strip():
            return None
        start, _, end = text.partition("-")
        return cls(start=time.fromisoformat(start.strip()), end=time.fromisoformat(end.strip()))

    def wait(self, now: datetime) -> timedelta:
        """How long an SMS due at `now` must wait: nothing outside quiet hours, else until they end."""
        local = now.astimezone(SHANGHAI)
        moment = local.time()
        if self.start <= self.end:
            quiet = self.start <= moment < self.end
        else:  # across midnight
            quiet = moment >= self.start or moment < self.end
        if not quiet:
            return timedelta(0)
        ends = datetime.combine(local.date(), self.end, tzinfo=SHANGHAI)
        if ends <= local:
            ends += timedelta(days=1)
        return ends - local


class Recipient(BaseModel):
    user_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    locale: str = "zh-CN"
    wechat_openid: str | None = None  # the mini-program's
    wechat_oa_openid: str | None = None  # the Official Account's


# Who a staff-chat notice is addressed to: the team's rooms, not a person.
TEAM = Recipient(user_id="team", name="staff chat")


class NotifyInput(BaseModel):
    """One notice on one channel. notification_id is deterministic, so a retried or replayed send is
    the same notification (one inbox row, one Message-ID)."""

    notification_id: str
    case_type: str
    case_id: str
    event: NoticeEvent
    channel: Channel
    recipient: Recipient
    # Template variables; plain JSON values only, so the workflow can build them deterministically.
    context: dict[str, Any] = Field(default_factory=dict)
    # Set when this notice replaces one its channel refused for good (that one's id).
    fallback_of: str | None = None


class NotifyResult(BaseModel):
    notification_id: str
    status: NotificationStatus
    provider_response: str | None = None


def notification_id_for(workflow_id: str, event: NoticeEvent, channel: Channel, repeat: int = 0) -> str:
    """repeat counts notices of one event that recur (the 2nd, 3rd... reminder)."""
    base = f"{workflow_id}:{event.value}:{channel.value}"
    return f"{base}:{repeat}" if repeat else base
