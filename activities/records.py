"""Writes refund steps to the DB projection and the audit trail."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.engine import SessionFactory
from db.models import AuditEvent, Refund
from domain.refunds import FINAL_STATUSES, RefundEvent, RefundStatus


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
            session.add(
                AuditEvent(
                    event_key=step.event_key,
                    case_type="refund",
                    case_id=step.refund_id,
                    event=step.event,
                    actor=step.actor,
                    from_status=refund.status,
                    to_status=step.status.value,
                    note=step.note,
                    detail=step.detail,
                    at=step.at,
                )
            )
            refund.status = step.status.value
            refund.updated_at = step.at
            if step.decision_reason is not None:
                refund.decision_reason = step.decision_reason
            if step.decided_by is not None:
                refund.decided_by = step.decided_by
                refund.decided_at = step.at
            if step.gateway_refund_id is not None:
                refund.gateway_refund_id = step.gateway_refund_id
            if step.status is RefundStatus.REFUNDED:
                refund.refunded_at = step.at
            if step.status in FINAL_STATUSES:
                refund.active_order_id = None  # the order may be refunded again (e.g. after a rejection)
            session.add(refund)
            try:
                session.commit()
            except IntegrityError:
                # A concurrent attempt of this same step won the race on event_key: already recorded.
                session.rollback()
