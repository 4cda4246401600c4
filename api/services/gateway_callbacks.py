"""A verified gateway notification, kept as evidence in its refund's audit trail before it is
handed to the workflow: the headers (credentials redacted), the body exactly as it came (WeChat Pay's
resource stays encrypted, so the platform's signature over it can be checked again later), and
what we read from it."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

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
# A gateway's resends of one notification span a day (WeChat Pay: 24 h 4 min; Alipay: 25 h).
ANSWERED_KEPT_SECONDS = 25 * 3600
ANSWERED_MAX = 100_000  # far more notifications than a day brings; the oldest is forgotten first


class AnsweredCallbacks:
    """Notifications this API process acknowledged lately, by their notification_id. The same signed
    bytes again — someone replaying a captured notification, or the gateway resending one whose
    answer it lost — are acknowledged again without reaching the workflow a second time. Another
    replica, or this one after a restart, does not know them: there a replay reaches the workflow,
    which ignores a result after the first conclusive one (a harmless duplicate)."""

    def __init__(
        self,
        *,
        keep_seconds: float = ANSWERED_KEPT_SECONDS,
        max_entries: int = ANSWERED_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep_seconds = keep_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._answered: OrderedDict[str, float] = OrderedDict()  # id → when answered

    def seen(self, gateway: Gateway, notification_id: str) -> bool:
        answered = self._answered.get(f"{gateway.value}:{notification_id}")
        return answered is not None and self._clock() - answered < self._keep_seconds

    def remember(self, gateway: Gateway, notification_id: str) -> None:
        key = f"{gateway.value}:{notification_id}"
        self._answered[key] = self._clock()
        self._answered.move_to_end(key)
        while len(self._answered) > self._max_entries:
            self._answered.popitem(last=False)


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
