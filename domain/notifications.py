"""What a workflow asks the notification activities to send."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Channel(StrEnum):
    INBOX = "inbox"
    EMAIL = "email"
    SMS = "sms"


class NoticeEvent(StrEnum):
    REFUND_RECEIVED = "refund_received"
    REFUND_APPROVED = "refund_approved"
    REFUND_REJECTED = "refund_rejected"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_DELAYED = "refund_delayed"
    REFUND_MANAGER_CALL = "refund_manager_call"
    # To staff, in their in-app inbox.
    REVIEW_REMINDER = "review_reminder"
    REVIEW_ESCALATED = "review_escalated"


STAFF_EVENTS = frozenset({NoticeEvent.REVIEW_REMINDER, NoticeEvent.REVIEW_ESCALATED})


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Recipient(BaseModel):
    user_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    locale: str = "zh-CN"


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


class NotifyResult(BaseModel):
    notification_id: str
    status: NotificationStatus
    provider_response: str | None = None


def notification_id_for(workflow_id: str, event: NoticeEvent, channel: Channel) -> str:
    return f"{workflow_id}:{event.value}:{channel.value}"
