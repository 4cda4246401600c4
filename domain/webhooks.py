"""Outbound events for integrators (the school's CRM, data warehouse, ...).

A subscriber registers a URL and the event types it wants: exact (`refund.refunded`), a family
(`refund.*`) or everything (`*`). Each event is POSTed to each matching subscriber as JSON, signed as
integrations.signed_post describes, retried with backoff, and every delivery is logged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class OutboundEventType(StrEnum):
    REFUND_REQUESTED = "refund.requested"
    REFUND_APPROVED = "refund.approved"
    REFUND_REJECTED = "refund.rejected"
    REFUND_WITHDRAWN = "refund.withdrawn"
    # Money is back with the student; the CRM re-tags them (e.g. "refunded").
    REFUND_REFUNDED = "refund.refunded"
    # The gateway could not pay it; a finance task is open.
    REFUND_DELAYED = "refund.delayed"
    # Complaints (published by the complaint workflow).
    COMPLAINT_RECEIVED = "complaint.received"
    COMPLAINT_ASSIGNED = "complaint.assigned"
    COMPLAINT_FIRST_RESPONSE = "complaint.first_response"
    COMPLAINT_SLA_BREACHED = "complaint.sla_breached"
    COMPLAINT_RESOLVED = "complaint.resolved"
    COMPLAINT_REOPENED = "complaint.reopened"
    COMPLAINT_COMPENSATED = "complaint.compensated"  # a coupon or a progress reset was given
    COMPLAINT_ARCHIVED = "complaint.archived"


EVENT_FAMILIES = frozenset(event.value.split(".", 1)[0] for event in OutboundEventType)


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


def pattern_problem(pattern: str) -> str | None:
    """Why a subscription pattern is not one we can ever match, or None when it is fine."""
    if pattern == "*" or pattern in {event.value for event in OutboundEventType}:
        return None
    family, _, rest = pattern.partition(".")
    if rest == "*" and family in EVENT_FAMILIES:
        return None
    known = ", ".join(sorted(event.value for event in OutboundEventType))
    return f"unknown event type {pattern!r}; use '*', '<family>.*' or one of: {known}"


def matches(patterns: list[str], event_type: str) -> bool:
    family = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{family}.*") for p in patterns)


class OutboundEvent(BaseModel):
    """One event; its id is deterministic, so a replayed workflow publishes the same event once."""

    id: str
    type: OutboundEventType
    occurred_at: datetime
    case_type: str
    case_id: str
    data: dict[str, Any] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }


def delivery_id_for(event_id: str, subscription_id: str) -> str:
    return f"{event_id}:{subscription_id}"
