"""Refund use cases behind the routes: request, decide, read, apply a gateway result."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.deps import TemporalClientProvider
from api.services.policies import current_policy
from api.services.workflow_calls import execute_update, start_case, workflow_exists
from db.models import (
    Course,
    FinanceTask,
    Order,
    Refund,
    ReviewerGroupMember,
    User,
)
from db.snapshots import student_snapshot
from domain import search_attributes
from domain.courses import CourseType, Gateway
from domain.finance import (
    FinanceTaskKind,
    FinanceTaskStatus,
    PayoutOutcome,
    PayoutResolution,
    refusal_of_retry,
)
from domain.money import format_yuan
from domain.policy import (
    ContractTerms,
    IneligibleReason,
    RefundPolicy,
    RefundQuote,
    quote_refund,
    reason_text,
)
from domain.refunds import (
    CourseSnapshot,
    DecisionReceipt,
    GatewayRefundResult,
    ManagerConfirmation,
    RefundRequest,
    RefundStatus,
    ReviewDecision,
    refund_workflow_id,
)
from domain.roles import REFUND_READERS, Role
from domain.timeutil import SHANGHAI, utcnow
from settings import Settings
from workflows.refund import RefundWorkflow

STALE_REQUEST_AFTER = timedelta(minutes=2)


def new_refund_id() -> str:
    """RF + Shanghai date + 10 random hex digits: readable on the phone, unique, a valid
    out_refund_no for WeChat Pay and out_request_no for Alipay."""
    return f"RF{utcnow().astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(5).upper()}"


def _in_progress_conflict(refund_id: str, order_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        {"message": f"order {order_id} already has refund {refund_id} in progress", "refund_id": refund_id},
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
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"you have no order {order_id}")
    course = session.get(Course, order.course_id)
    assert course is not None  # orders reference courses by foreign key
    policy = current_policy(session, CourseType(course.type))
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
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["body", "amount_fen"], "msg": str(exc), "type": "value_error"}],
        ) from exc
    return JudgedRequest(order=order, course=course, policy=policy, quote=quote)


def _prepare_refund(
    *,
    session: Session,
    student: User,
    order_id: str,
    reason: str,
    requested_fen: int | None,
    gateways: Collection[Gateway],
) -> tuple[Refund, RefundRequest]:
    """Judge the request and commit its row (the workflow's first write expects it). Blocking I/O:
    routes run it in the thread pool."""
    judged = judge_request(session=session, student=student, order_id=order_id, requested_fen=requested_fen)
    order, course, policy, quote = judged.order, judged.course, judged.policy, judged.quote
    if Gateway(order.gateway) not in gateways:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"order {order_id} was paid through {order.gateway}, which is not connected here; "
            "please contact support to be refunded",
        )
    in_progress = session.exec(select(Refund).where(Refund.active_order_id == order_id)).first()
    if in_progress is not None:
        raise _in_progress_conflict(in_progress.id, order_id)
    if quote.reason is IneligibleReason.NOTHING_LEFT:
        raise HTTPException(status.HTTP_409_CONFLICT, f"order {order_id} has already been refunded in full")
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
        raise _in_progress_conflict(winner.id if winner else "?", order_id) from None
    request = RefundRequest(
        refund_id=refund.id,
        order_id=order.id,
        student=student_snapshot(student),
        course=CourseSnapshot(
            id=course.id, name=course.name, type=CourseType(course.type), starts_at=course.starts_at
        ),
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
    return refund, request


def _take_back(session: Session, refund_id: str) -> None:
    """Delete a refund row whose workflow never started: nothing was sent, nothing was decided."""
    row = session.get(Refund, refund_id)
    if row is not None and row.status == RefundStatus.REQUESTED.value:
        session.delete(row)
        session.commit()


def _stale_request(session: Session, order_id: str) -> Refund | None:
    """A row left `requested` for a while may belong to a request whose API process died before it
    started the workflow; such a row would lock its order for good."""
    row = session.exec(select(Refund).where(Refund.active_order_id == order_id)).first()
    stale = row is not None and row.status == RefundStatus.REQUESTED.value
    return row if stale and utcnow() - row.requested_at > STALE_REQUEST_AFTER else None


async def request_refund(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    student: User,
    order_id: str,
    reason: str,
    requested_fen: int | None = None,
    gateways: Collection[Gateway],
) -> Refund:
    stale = await run_in_threadpool(_stale_request, session, order_id)
    if (
        stale is not None
        and await workflow_exists(
            await temporal.get(), stale.workflow_id, settings.temporal_call_timeout_seconds
        )
        is False
    ):
        await run_in_threadpool(_take_back, session, stale.id)
    refund, request = await run_in_threadpool(
        partial(
            _prepare_refund,
            session=session,
            student=student,
            order_id=order_id,
            reason=reason,
            requested_fen=requested_fen,
            gateways=gateways,
        )
    )
    session.close()  # hold no database connection while waiting on Temporal
    request = request.model_copy(update={"sms_quiet_hours": settings.sms_quiet_hours_window})

    async def start(client: Client) -> None:
        await client.start_workflow(
            RefundWorkflow.run,
            request,
            id=refund.workflow_id,
            task_queue=settings.task_queue,
            search_attributes=_search_attributes(request),
            static_summary=(
                f"Refund {format_yuan(request.refund_amount_fen)} of {request.course.name} "
                f"for {request.student.name}"
            ),
            static_details=(
                f"Order {request.order_id} ({request.course.type.value} course), paid "
                f"{format_yuan(request.amount_paid_fen)} via {request.gateway.value}. Reason: {reason}"
            ),
        )

    await start_case(
        temporal=temporal,
        settings=settings,
        workflow_id=refund.workflow_id,
        start=start,
        take_back=partial(_take_back, session, refund.id),
        unavailable="the refund service is unavailable and your request was not submitted; please try again",
    )
    return refund


def _search_attributes(request: RefundRequest) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(search_attributes.REFUND_STATUS, RefundStatus.REQUESTED.value),
            SearchAttributePair(search_attributes.STUDENT_ID, request.student.id),
            SearchAttributePair(search_attributes.ORDER_ID, request.order_id),
            SearchAttributePair(search_attributes.COURSE_TYPE, request.course.type.value),
            SearchAttributePair(search_attributes.AMOUNT_FEN, request.refund_amount_fen),
        ]
    )


def readable_refund(*, session: Session, user: User, refund_id: str) -> Refund:
    """The refund if this user may see it. Another student's refund looks like no refund at all."""
    refund = session.get(Refund, refund_id)
    may_read = refund is not None and (refund.student_id == user.id or user.role in REFUND_READERS)
    if not may_read:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no refund {refund_id}")
    assert refund is not None
    return refund


def list_refunds(
    *, session: Session, user: User, status_filter: RefundStatus | None, limit: int, offset: int
) -> list[Refund]:
    """Students: their own. Reviewers: their queue (refunds of their groups or given to them).
    Other refund readers: all. Soonest review due first, then oldest request."""
    query = select(Refund)
    if user.role == Role.STUDENT:
        query = query.where(Refund.student_id == user.id)
    elif user.role == Role.REVIEWER:
        groups = select(ReviewerGroupMember.group_id).where(ReviewerGroupMember.user_id == user.id)
        query = query.where(or_(col(Refund.review_group).in_(groups), Refund.assigned_reviewer_id == user.id))
    elif user.role not in REFUND_READERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role does not read refunds")
    if status_filter is not None:
        query = query.where(Refund.status == status_filter.value)
    query = query.order_by(
        col(Refund.review_due_at).is_(None),
        col(Refund.review_due_at),
        col(Refund.requested_at),
        col(Refund.id),
    )
    return list(session.exec(query.offset(offset).limit(limit)))


def may_decide(session: Session, *, user: User, refund: Refund) -> bool:
    """Leads decide any refund; a reviewer, those of their groups and those given to them."""
    if user.role == Role.LEAD or refund.assigned_reviewer_id == user.id:
        return True
    if user.role != Role.REVIEWER or refund.review_group is None:
        return False
    return session.get(ReviewerGroupMember, (refund.review_group, user.id)) is not None


def _not_in(refund: Refund, awaited: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, f"refund {refund.id} is {refund.status}, not {awaited}")


async def _update_refund(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    user: User,
    refund_id: str,
    expected: RefundStatus,
    awaited: str,
    update: Any,
    argument: Any,
    check_group: bool = False,
) -> DecisionReceipt:
    """Run one of RefundWorkflow's updates for a person: 404 if they may not see the refund, 409 if it
    is not in the state the update is for (checked here first, then by the update's validator before
    anything reaches history), 503 if no worker answers in time."""
    refund = await run_in_threadpool(
        partial(readable_refund, session=session, user=user, refund_id=refund_id)
    )
    if check_group and not await run_in_threadpool(partial(may_decide, session, user=user, refund=refund)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"refund {refund.id} is for the {refund.review_group} group to review"
        )
    session.close()  # hold no database connection while waiting on Temporal
    if refund.status != expected.value:
        raise _not_in(refund, awaited)
    return await execute_update(
        temporal=temporal,
        settings=settings,
        run=RefundWorkflow.run,
        workflow_id=refund.workflow_id,
        update=update,
        argument=argument,
        finished=lambda: _not_in(refund, awaited),
    )


async def decide_refund(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    reviewer: User,
    refund_id: str,
    decision: ReviewDecision,
) -> DecisionReceipt:
    return await _update_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        user=reviewer,
        refund_id=refund_id,
        expected=RefundStatus.AWAITING_REVIEW,
        awaited="awaiting review",
        update=RefundWorkflow.decide,
        argument=decision,
        check_group=True,
    )


async def confirm_refund(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    manager: User,
    refund_id: str,
    confirmation: ManagerConfirmation,
) -> DecisionReceipt:
    return await _update_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        user=manager,
        refund_id=refund_id,
        expected=RefundStatus.AWAITING_CONFIRMATION,
        awaited="awaiting a manager's call",
        update=RefundWorkflow.confirm,
        argument=confirmation,
    )


async def resolve_finance_task(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    finance: User,
    task_id: str,
    resolution: PayoutResolution,
) -> DecisionReceipt:
    """Finance's answer on an open task: 404 for no such task, 409 when it is already resolved or
    the answer does not fit it (asking the gateway again for a refund number it has settled)."""
    task = await run_in_threadpool(session.get, FinanceTask, task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no finance task {task_id}")
    if task.status != FinanceTaskStatus.OPEN.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"finance task {task_id} was resolved ({task.outcome}) already"
        )
    refusal = refusal_of_retry(FinanceTaskKind(task.kind))
    if resolution.outcome is PayoutOutcome.RETRY_GATEWAY and refusal:
        raise HTTPException(status.HTTP_409_CONFLICT, refusal)
    return await _update_refund(
        session=session,
        temporal=temporal,
        settings=settings,
        user=finance,
        refund_id=task.refund_id,
        expected=RefundStatus.REFUND_FAILED,
        awaited="waiting for finance",
        update=RefundWorkflow.resolve_payout,
        argument=resolution,
    )


async def deliver_gateway_result(
    *, session: Session, temporal: TemporalClientProvider, result: GatewayRefundResult
) -> None:
    """Hand a verified gateway result to its refund's workflow. A result for a refund that has
    already finished is a harmless duplicate."""
    refund = await run_in_threadpool(session.get, Refund, result.refund_id)
    session.close()
    if refund is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"code": "FAIL", "message": "unknown refund"})
    client = await temporal.get()
    handle = client.get_workflow_handle_for(RefundWorkflow.run, refund.workflow_id)
    try:
        await handle.signal(RefundWorkflow.gateway_result, result)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, {"code": "FAIL", "message": "try again later"}
            ) from exc
