from __future__ import annotations

from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from db.engine import SessionFactory
from db.models import AuditEvent, Refund
from domain.refunds import RefundEvent, RefundStatus
from domain.roles import Role
from domain.timeutil import utcnow
from tests.factories import make_order, make_refund, make_user


def _step(refund_id: str, n: int, event: str, status: RefundStatus, **fields) -> RefundEvent:
    return RefundEvent(
        refund_id=refund_id,
        event_key=f"refund-{refund_id}:{n}:{event}",
        event=event,
        status=status,
        at=utcnow(),
        actor="U1",
        **fields,
    )


def test_a_retried_step_is_recorded_once(sessions: SessionFactory) -> None:
    refund = make_refund(sessions, make_order(sessions, make_user(sessions, Role.STUDENT)))
    records = RecordActivities(sessions)
    env = ActivityEnvironment()
    step = _step(refund.id, 1, "review.awaiting", RefundStatus.AWAITING_REVIEW)
    env.run(records.record_refund_event, step)
    env.run(records.record_refund_event, step)
    with sessions() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.case_id == refund.id)).all()
        assert [(e.event, e.from_status, e.to_status) for e in events] == [
            ("review.awaiting", "requested", "awaiting_review")
        ]
        stored = session.get(Refund, refund.id)
        assert stored is not None and stored.status == "awaiting_review"


def test_a_decision_fills_the_projection_and_a_final_status_frees_the_order(sessions: SessionFactory) -> None:
    refund = make_refund(
        sessions, make_order(sessions, make_user(sessions, Role.STUDENT)), status="awaiting_review"
    )
    records = RecordActivities(sessions)
    env = ActivityEnvironment()
    env.run(
        records.record_refund_event,
        _step(
            refund.id,
            1,
            "review.rejected",
            RefundStatus.REJECTED,
            decision_reason="已超过退款期限",
            decided_by="U9",
        ),
    )
    with sessions() as session:
        stored = session.get(Refund, refund.id)
        assert stored is not None
        assert (stored.status, stored.decision_reason, stored.decided_by) == (
            "rejected",
            "已超过退款期限",
            "U9",
        )
        assert stored.decided_at is not None
        assert stored.active_order_id is None


def test_a_step_in_progress_keeps_the_order_locked(sessions: SessionFactory) -> None:
    order = make_order(sessions, make_user(sessions, Role.STUDENT))
    refund = make_refund(sessions, order, status="approved")
    env = ActivityEnvironment()
    env.run(
        RecordActivities(sessions).record_refund_event,
        _step(refund.id, 1, "gateway.requested", RefundStatus.REFUNDING, gateway_refund_id="SB42"),
    )
    with sessions() as session:
        stored = session.get(Refund, refund.id)
        assert stored is not None
        assert (stored.status, stored.gateway_refund_id, stored.active_order_id) == (
            "refunding",
            "SB42",
            order.id,
        )


def test_steps_after_the_refund_keep_its_refunded_date(sessions: SessionFactory) -> None:
    refund = make_refund(
        sessions, make_order(sessions, make_user(sessions, Role.STUDENT)), status="refunding"
    )
    records = RecordActivities(sessions)
    env = ActivityEnvironment()
    env.run(records.record_refund_event, _step(refund.id, 1, "gateway.succeeded", RefundStatus.REFUNDED))
    with sessions() as session:
        first = session.get(Refund, refund.id)
        assert first is not None and first.refunded_at is not None
        refunded_at = first.refunded_at
    env.run(records.record_refund_event, _step(refund.id, 2, "enrollment.revoked", RefundStatus.REFUNDED))
    with sessions() as session:
        later = session.get(Refund, refund.id)
        assert later is not None and later.refunded_at == refunded_at
