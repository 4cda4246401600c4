from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STUDENT = "student"
    REVIEWER = "reviewer"
    AGENT = "agent"
    LEAD = "lead"
    FINANCE = "finance"
    ADMIN = "admin"
    INTEGRATION = "integration"


# Who may decide a refund: reviewers, and leads (the escalation target of a review).
REFUND_DECIDERS = frozenset({Role.REVIEWER, Role.LEAD})
# Who reports an account manager's confirmation call.
REFUND_CONFIRMERS = frozenset({Role.LEAD, Role.FINANCE})
# Who reads the monthly reports.
REPORT_READERS = frozenset({Role.LEAD, Role.FINANCE, Role.ADMIN})
# Staff who may read any refund.
REFUND_READERS = frozenset({Role.REVIEWER, Role.AGENT, Role.LEAD, Role.FINANCE, Role.ADMIN})
