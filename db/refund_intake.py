"""A refund request taken in: the order judged by the policy in force, the refund row committed
(the workflow's first write expects it), and the workflow's input built. Shared by the API (a
student asks) and the complaint workflow's activity (an agent asks for the student), so both judge
the same way. Refusals are `RefundRefused`, which each caller turns into its own kind of answer."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from db.models import Course, Order, Refund, RefundPolicyVersion, User
from db.snapshots import course_snapshot, student_snapshot
from domain.courses import CourseType, Gateway
from domain.policy import (
    ContractTerms,
    IneligibleReason,
    RefundPolicy,
    RefundQuote,
    quote_refund,
    reason_text,
)
from domain.refund_reasons import RefundReasonCode
from domain.refunds import RefundRequest, RefundStatus, refund_workflow_id
from domain.timeutil import SHANGHAI, utcnow

# A row left `requested` this long may belong to a request whose process died before it started
# the workflow; such a row would lock its order for good.
STALE_REQUEST_AFTER = timedelta(minutes=2)


class Refusal(StrEnum):
    NOT_FOUND = "not_found"  # no such order of this student
    INVALID = "invalid"  # the request itself is wrong (an amount beyond what is left)
    CONFLICT = "conflict"  # the order's state forbids it now
    UNAVAILABLE = "unavailable"  # the school's configuration lacks something (a policy)


class RefundRefused(Exception):
    def __init__(
        self, refusal: Refusal, message: str, *, field: str | None = None, refund_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message
        self.field = field  # the request field at fault (INVALID)
        self.refund_id = refund_id  # the refund already in progress (CONFLICT)


def new_refund_id() -> str:
    """RF + Shanghai date + 10 random hex digits: readable on the phone, unique, a valid
    out_refund_no for WeChat Pay and out_request_no for Alipay."""
    return f"RF{utcnow().astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(5).upper()}"


def policy_of(row: RefundPolicyVersion) -> RefundPolicy:
    return RefundPolicy(course_type=CourseType(row.course_type), version=row.version, **row.terms)


def policy_in_force(session: Session, course_type: CourseType) -> RefundPolicy:
    row = session.exec(
        select(RefundPolicyVersion)
        .where(RefundPolicyVersion.course_type == course_type.value)
        .order_by(col(RefundPolicyVersion.version).desc())
        .limit(1)
    ).first()
    if row is None:  # the first migration inserts version 1 of every type
        raise RefundRefused(Refusal.UNAVAILABLE, f"no refund policy for {course_type.value} courses")
    return policy_of(row)


def _in_progress(refund_id: str, order_id: str) -> RefundRefused:
    return RefundRefused(
        Refusal.CONFLICT, f"order {order_id} already has refund {refund_id} in progress", refund_id=refund_id
    )


@dataclass(frozen=True)
class JudgedRequest:
    order: Order
    course: Course
    policy: RefundPolicy
    quote: RefundQuote


def judge_request(
    *, session: Session, student: User, order_id: str, requested_fen: int | None
) -> JudgedRequest:
    """The student's order judged by the policy in force, as the quote and the request both see it."""
    order = session.get(Order, order_id)
    if order is None or order.student_id != student.id:
        raise RefundRefused(Refusal.NOT_FOUND, f"{student.display_name} has no order {order_id}")
    course = session.get(Course, order.course_id)
    assert course is not None  # orders reference courses by foreign key
    policy = policy_in_force(session, CourseType(course.type))
    refunded = session.exec(
        select(func.coalesce(func.sum(Refund.requested_fen), 0)).where(
            Refund.order_id == order.id, Refund.status == RefundStatus.REFUNDED.value
        )
    ).one()
    contract = (
        ContractTerms(refund_deadline=order.contract_refund_deadline, fee_bp=order.contract_fee_bp)
        if order.contract_refund_deadline is not None or order.contract_fee_bp is not None
        else None
    )
    try:
        quote = quote_refund(
            policy,
            course_starts_at=course.starts_at,
            contract=contract,
            amount_paid_fen=order.amount_paid_fen,
            already_refunded_fen=int(refunded),
            requested_fen=requested_fen,
            now=utcnow(),
        )
    except ValueError as exc:
        raise RefundRefused(Refusal.INVALID, str(exc), field="amount_fen") from exc
    return JudgedRequest(order=order, course=course, policy=policy, quote=quote)


def take_in_refund(
    *,
    session: Session,
    student: User,
    order_id: str,
    reason: str,
    requested_fen: int | None,
    gateways: Collection[Gateway],
    reason_code: RefundReasonCode | None = None,
) -> RefundRequest:
    """Judge the request, commit its row and return the workflow's input. Blocking I/O."""
    judged = judge_request(session=session, student=student, order_id=order_id, requested_fen=requested_fen)
    order, course, policy, quote = judged.order, judged.course, judged.policy, judged.quote
    if Gateway(order.gateway) not in gateways:
        raise RefundRefused(
            Refusal.CONFLICT,
            f"order {order_id} was paid through {order.gateway}, which is not connected here; "
            "please contact support to be refunded",
        )
    in_progress = session.exec(select(Refund).where(Refund.active_order_id == order_id)).first()
    if in_progress is not None:
        raise _in_progress(in_progress.id, order_id)
    if quote.reason is IneligibleReason.NOTHING_LEFT:
        raise RefundRefused(Refusal.CONFLICT, f"order {order_id} has already been refunded in full")
    reason_for_student = (
        reason_text(quote.reason, window_ends_at=quote.window_ends_at, locale=student.locale)
        if quote.reason
        else None
    )
    requested_at = utcnow()
    refund_id = new_refund_id()
    refund = Refund(
        id=refund_id,
        workflow_id=refund_workflow_id(refund_id),
        order_id=order.id,
        active_order_id=order.id,
        student_id=student.id,
        course_id=course.id,
        course_name=course.name,
        course_type=course.type,
        gateway=order.gateway,
        status=RefundStatus.REQUESTED.value,
        reason=reason,
        reason_code=reason_code.value if reason_code else None,
        amount_paid_fen=quote.amount_paid_fen,
        requested_fen=quote.requested_fen,
        fee_fen=quote.fee_fen,
        refund_amount_fen=quote.refund_amount_fen,
        eligibility=quote.eligibility.value,
        ineligible_reason=quote.reason.value if quote.reason else None,
        needs_manager_confirmation=quote.needs_manager_confirmation,
        policy_version=policy.version,
        policy=policy.model_dump(mode="json"),
        requested_at=requested_at,
        updated_at=requested_at,
    )
    session.add(refund)
    try:
        # The unique active_order_id refuses a concurrent second request for the same order.
        session.commit()
    except IntegrityError:
        session.rollback()
        winner = session.exec(select(Refund).where(Refund.active_order_id == order_id)).first()
        raise _in_progress(winner.id if winner else "?", order_id) from None
    return RefundRequest(
        refund_id=refund.id,
        order_id=order.id,
        student=student_snapshot(student),
        course=course_snapshot(course),
        reason=reason,
        requested_at=requested_at,
        amount_paid_fen=quote.amount_paid_fen,
        requested_fen=quote.requested_fen,
        fee_fen=quote.fee_fen,
        refund_amount_fen=quote.refund_amount_fen,
        gateway=Gateway(order.gateway),
        gateway_trade_no=order.gateway_trade_no,
        policy=policy,
        eligibility=quote.eligibility,
        ineligible_reason_text=reason_for_student,
        needs_manager_confirmation=quote.needs_manager_confirmation,
    )


def take_back(session: Session, refund_id: str) -> None:
    """Delete a refund row whose workflow never started: nothing was sent, nothing was decided."""
    row = session.get(Refund, refund_id)
    if row is not None and row.status == RefundStatus.REQUESTED.value:
        session.delete(row)
        session.commit()


def stale_request(session: Session, order_id: str) -> Refund | None:
    """The order's `requested` row, if it has been waiting longer than a start takes."""
    row = session.exec(select(Refund).where(Refund.active_order_id == order_id)).first()
    stale = row is not None and row.status == RefundStatus.REQUESTED.value
    return row if stale and utcnow() - row.requested_at > STALE_REQUEST_AFTER else None
