"""A verified gateway notification, kept as evidence in its refund's audit trail before it is
handed to the workflow: the headers (credentials redacted), the body exactly as it came (WeChat Pay's
resource stays encrypted, so the platform's signature over it can be checked again later), and
what we read from it."""

from __future__ import annotations

import hashlib

from sqlmodel import Session

from db.audit_log import record_event
from db.engine import SessionFactory
from db.models import AuditEvent, Refund
from domain.audit_trail import GATEWAY_CALLBACK
from domain.courses import Gateway
from domain.redaction import redacted
from domain.refunds import GatewayRefundResult
from domain.timeutil import utcnow

BODY_LIMIT = 8000


def keep_callback_evidence(
    sessions: SessionFactory,
    *,
    gateway: Gateway,
    headers: dict[str, str],
    body: bytes,
    result: GatewayRefundResult,
) -> bool:
    """Record it once per distinct notification (gateways resend the same bytes until answered).
    False for a refund we do not know: nothing is kept, and the caller refuses it."""
    with sessions() as session:
        if not _known(session, result.refund_id):
            return False
    record_event(
        sessions,
        AuditEvent(
            event_key=f"callback:{gateway.value}:{hashlib.sha256(body).hexdigest()}",
            case_type="refund",
            case_id=result.refund_id,
            event=GATEWAY_CALLBACK,
            actor=gateway.value,
            note=f"{gateway.value} notified {result.outcome.value} for {result.refund_fen} fen",
            detail={
                "headers": redacted(headers),
                "body": body.decode("utf-8", "replace")[:BODY_LIMIT],
                "read_as": result.model_dump(mode="json"),
            },
            at=utcnow(),
        ),
    )
    return True


def _known(session: Session, refund_id: str) -> bool:
    return session.get(Refund, refund_id) is not None
