"""Names of the audit events that are evidence rather than steps: what was sent to a student, and
what passed between us and a payment gateway. A case's detail page shows its steps; its full
timeline and its export carry the evidence too."""

from __future__ import annotations

GATEWAY_EXCHANGE = "gateway.exchange"  # one HTTP request to a gateway and its answer
GATEWAY_CALLBACK = "gateway.callback"  # a verified notification from a gateway
NOTICE_SENT = "notice.sent"  # a notice's rendered copy, as delivered
NOTICE_FAILED = "notice.failed"  # a notice's rendered copy, refused for good

EVIDENCE_EVENTS = frozenset({GATEWAY_EXCHANGE, GATEWAY_CALLBACK, NOTICE_SENT, NOTICE_FAILED})
