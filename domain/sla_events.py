"""The audit events that mark an SLA warning or a breach, written by the workflows and counted by
the API's metrics (api/services/metrics.py): one place for their names.

A complaint has two clocks, first response and resolution, each warned at 80% and breached at its
deadline. A refund has one, its review: the reviewer's reminder is its warning, the escalation of
an overdue review to a lead its breach."""

from __future__ import annotations

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
WARNING = "warning"
BREACHED = "breached"
REVIEW_REMINDER = "review.reminder"
REVIEW_ESCALATED = "review.escalated"


def complaint_sla_event(clock: str, kind: str) -> str:
    """'sla.first_response.warning', 'sla.resolution.breached', …"""
    return f"sla.{clock}.{kind}"


# Each SLA event and what it is: (case type, clock, kind).
SLA_EVENTS: dict[str, tuple[str, str, str]] = {
    **{
        complaint_sla_event(clock, kind): ("complaint", clock, kind)
        for clock in (FIRST_RESPONSE, RESOLUTION)
        for kind in (WARNING, BREACHED)
    },
    REVIEW_REMINDER: ("refund", "review", WARNING),
    REVIEW_ESCALATED: ("refund", "review", BREACHED),
}
