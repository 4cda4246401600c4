"""Refund use cases behind the routes: request, decide, read, apply a gateway result."""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import or_
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import TemporalClientProvider
from api.errors import field_error
from api.services.workflow_calls import execute_update, same_request_update_id, start_case, workflow_exists
from db import refund_intake
from db.models import (
    FinanceTask,
    Refund,
    ReviewerGroupMember,
    User,
)
from db.refund_intake import JudgedRequest, RefundRefused, Refusal
from domain import temporal_views
from domain.courses import Gateway
from domain.finance import (
    FinanceTaskKind,
    FinanceTaskStatus,
    PayoutOutcome,
    PayoutResolution,
    refusal_of_retry,
)
from domain.refund_reasons import RefundReasonCode
from domain.refunds import (
    DecisionReceipt,
    GatewayRefundResult,
    ManagerConfirmation,
    RefundRequest,
    RefundStatus,
    ReviewDecision,
    refund_workflow_id,
)
from domain.roles import REFUND_READERS, Role
from settings import Settings
from workflows.refund import RefundWorkflow


class RefundUnderWay(HTTPException):
    """409: the order has a refund under way already, `refund_id` (the API's body names it too)."""

    def __init__(self, message: str, refund_id: str) -> None:
        super().__init__(status.HTTP_409_CONFLICT, {"message": message, "refund_id": refund_id})
        self.refund_id = refund_id


def refused(exc: RefundRefused) -> HTTPException:
    """A refusal from the refund intake as the API answers it."""
    if exc.refusal is Refusal.NOT_FOUND:
        return HTTPException(status.HTTP_404_NOT_FOUND, exc.message)
    if exc.refusal is Refusal.INVALID:
        return field_error(exc.field or "body", exc.message)
    if exc.refusal is Refusal.UNAVAILABLE:
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, exc.message)
    if exc.refund_id:
        return RefundUnderWay(exc.message, exc.refund_id)
    return HTTPException(status.HTTP_409_CONFLICT, exc.message)


def judge_request(
    *, session: Session, student: User, order_id: str, requested_fen: int | None
) -> JudgedRequest:
    try:
        return refund_intake.judge_request(
            session=session, student=student, order_id=order_id, requested_fen=requested_fen
        )
    except RefundRefused as exc:
        raise refused(exc) from exc


def _take_in(**arguments: Any) -> RefundRequest:
    try:
        return refund_intake.take_in_refund(**arguments)
    except RefundRefused as exc:
        raise refused(exc) from exc


async def request_refund(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    student: User,
    order_id: str,
    reason: str,
    reason_code: RefundReasonCode | None = None,
    requested_fen: int | None = None,
    gateways: Collection[Gateway],
) -> RefundRequest:
    stale = await run_in_threadpool(refund_intake.stale_request, session, order_id)
    if (
        stale is not None
        and await workflow_exists(
            await temporal.get(), stale.workflow_id, settings.temporal_call_timeout_seconds
        )
        is False
    ):
        await run_in_threadpool(refund_intake.take_back, session, stale.id)
    request = await run_in_threadpool(
        partial(
            _take_in,
            session=session,
            student=student,
            order_id=order_id,
            reason=reason,
            reason_code=reason_code,
            requested_fen=requested_fen,
            gateways=gateways,
        )
    )
    session.close()  # hold no database connection while waiting on Temporal
    request = request.model_copy(update={"sms_quiet_hours": settings.sms_quiet_hours_window})
    workflow_id = refund_workflow_id(request.refund_id)

    async def start(client: Client) -> None:
        await client.start_workflow(
            RefundWorkflow.run,
            request,
            id=workflow_id,
            task_queue=settings.task_queue,
            **temporal_views.refund_start_options(request),
        )

    await start_case(
        temporal=temporal,
        settings=settings,
        workflow_id=workflow_id,
        start=start,
        take_back=partial(refund_intake.take_back, session, request.refund_id),
        unavailable="the refund service is unavailable and your request was not submitted; please try again",
    )
    return request


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
    anything reaches history), 503 if no worker answers in time. Taken but not yet recorded when the
    wait ends: a receipt `being_recorded`; the same request sent again is the same update."""
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
        update_id=same_request_update_id(user, update, argument),
        accepted=lambda: DecisionReceipt(
            refund_id=refund.id, status=RefundStatus(refund.status), being_recorded=True
        ),
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
