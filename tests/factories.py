"""Rows for tests, built the way the running system builds them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from db.engine import SessionFactory
from db.models import Compensation, Complaint, Course, Order, Refund, ReviewerGroupMember, User

# Students and orders are made the same way for the benches: they live in devstack.population.
from devstack.population import PASSWORD, make_order, make_user  # noqa: F401
from domain.courses import CourseType
from domain.policy import DEFAULT_POLICIES, RefundPolicy
from domain.timeutil import utcnow


def default_policy(course_type: CourseType, version: int = 1) -> RefundPolicy:
    return RefundPolicy(
        course_type=course_type, version=version, **DEFAULT_POLICIES[course_type].model_dump()
    )


def join_group(sessions: SessionFactory, user: User, group_id: str = "regular-courses") -> None:
    with sessions() as session:
        session.add(ReviewerGroupMember(group_id=group_id, user_id=user.id))
        session.commit()


def make_refund(
    sessions: SessionFactory,
    order: Order,
    *,
    status: str = "requested",
    review_group: str | None = "regular-courses",
    review_due_at: datetime | None = None,
) -> Refund:
    refund_id = f"RF{secrets.token_hex(9).upper()}"
    now = utcnow()
    with sessions() as session:
        course = session.get(Course, order.course_id)
        assert course is not None
        policy = default_policy(CourseType(course.type))
        refund = Refund(
            id=refund_id,
            workflow_id=f"refund-{refund_id}",
            order_id=order.id,
            active_order_id=order.id,
            student_id=order.student_id,
            course_id=course.id,
            course_name=course.name,
            course_type=course.type,
            gateway=order.gateway,
            status=status,
            reason="测试原因",
            amount_paid_fen=order.amount_paid_fen,
            requested_fen=order.amount_paid_fen,
            fee_fen=0,
            refund_amount_fen=order.amount_paid_fen,
            eligibility="eligible",
            review_group=review_group,
            review_due_at=review_due_at,
            policy_version=policy.version,
            policy=policy.model_dump(mode="json"),
            requested_at=now,
            updated_at=now,
        )
        session.add(refund)
        session.commit()
    return refund


def make_complaint(
    sessions: SessionFactory,
    student: User,
    *,
    stage: str = "assigned",
    text: str = "直播卡顿",
    **projected: Any,
) -> Complaint:
    """A complaint row as the workflow's records would leave it; `projected` sets its other columns
    (department, deadlines, sla_breached…)."""
    complaint_id = f"CPT{secrets.token_hex(5).upper()}"
    complaint = Complaint(
        id=complaint_id,
        workflow_id=f"complaint-{complaint_id}",
        student_id=student.id,
        channel="web_form",
        text=text,
        logged_by=student.id,
        stage=stage,
        received_at=utcnow(),
        **projected,
    )
    with sessions() as session:
        session.add(complaint)
        session.commit()
        session.refresh(complaint)
    return complaint


def make_compensation(
    sessions: SessionFactory,
    complaint: Complaint,
    by: User,
    *,
    status: str = "awaiting_approval",
    amount_fen: int = 8_000,
    reason: str = "直播卡顿影响上课",
) -> Compensation:
    """A coupon offered on a complaint, as the ledger books it (beyond the quota: for a lead)."""
    now = utcnow()
    offer = Compensation(
        id=f"CM-{complaint.id}-{secrets.token_hex(2)}",
        complaint_id=complaint.id,
        student_id=complaint.student_id,
        kind="coupon",
        amount_fen=amount_fen,
        reason=reason,
        requested_by=by.id,
        authority="lead" if status == "awaiting_approval" else "quota",
        status=status,
        created_at=now,
        updated_at=now,
    )
    with sessions() as session:
        session.add(offer)
        session.commit()
        session.refresh(offer)
    return offer
