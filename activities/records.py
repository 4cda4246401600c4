"""Writes refund steps to the DB projection and the audit trail."""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.audit_log import append_event, chain_collision
from db.engine import SessionFactory
from db.models import AuditEvent, Refund
from domain.refunds import RELEASES_ORDER, RefundEvent, RefundStatus

# Column sizes (db/models.py): a gateway's error text can be longer than a note may be.
NOTE_LIMIT = 2000
DECISION_REASON_LIMIT = 1000


def commit_step(session: Session, what: str) -> None:
    """Commit one recorded step of a case (its audit event and projection together)."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if chain_collision(exc):
            # Another event of this case took the same place in its chain first: try again after it.
            raise
        # A concurrent attempt of this same step won the race on event_key: already recorded.
    except StatementError as exc:
        # The step itself cannot be stored (too long, a forbidden character, a naive time):
        # retrying would hang the case, so fail loudly where the Temporal UI shows it.
        # Anything else (a locked database, a lost connection) is worth retrying.
        if isinstance(exc, DataError) or isinstance(exc.orig, ValueError):
            raise ApplicationError(
                f"{what} cannot be stored: {exc}", type="InvalidRecord", non_retryable=True
            ) from exc
        raise


class RecordActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self.sessions = session_factory

    @activity.defn(name="record_refund_event")
    def record_refund_event(self, step: RefundEvent) -> None:
        """Append the step to the audit trail and move the projection, in one transaction. A step
        already recorded (a retry) changes nothing."""
        with self.sessions() as session:
            if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == step.event_key)).first():
                return
            refund = session.get(Refund, step.refund_id)
            if refund is None:
                # The API commits the row before it starts the workflow; retrying heals a lagging replica.
                raise ApplicationError(
                    f"refund {step.refund_id} is not in the database", type="RefundNotFound"
                )
            append_event(
                session,
                AuditEvent(
                    event_key=step.event_key,
                    case_type="refund",
                    case_id=step.refund_id,
                    event=step.event,
                    actor=step.actor,
                    from_status=refund.status,
                    to_status=step.status.value,
                    note=step.note[:NOTE_LIMIT],
                    detail=step.detail,
                    at=step.at,
                ),
            )
            newly_refunded = (
                step.status is RefundStatus.REFUNDED and refund.status != RefundStatus.REFUNDED.value
            )
            refund.status = step.status.value
            refund.updated_at = step.at
            if step.decision_reason is not None:
                refund.decision_reason = step.decision_reason[:DECISION_REASON_LIMIT]
            if step.decided_by is not None:
                refund.decided_by = step.decided_by
                refund.decided_at = step.at
            if step.gateway_refund_id is not None:
                refund.gateway_refund_id = step.gateway_refund_id
            if step.review_group is not None:
                refund.review_group = step.review_group
            if step.assigned_reviewer_id is not None:
                refund.assigned_reviewer_id = step.assigned_reviewer_id
                refund.assigned_at = step.at
            if step.review_due_at is not None:
                refund.review_due_at = step.review_due_at
            if newly_refunded:  # later steps of a refunded refund (enrollment revoked...) keep the date
                refund.refunded_at = step.at
            if step.status in RELEASES_ORDER:
                refund.active_order_id = None  # the order may be asked about again
            session.add(refund)
            commit_step(session, f"step {step.event} of refund {step.refund_id}")
