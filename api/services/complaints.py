"""Complaints for the API: filing one (the student's form, or an agent logging a call), the queues,
and agents' and students' actions, which run as ComplaintWorkflow's updates."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import partial
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import or_
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.deps import TemporalClientProvider
from api.errors import field_error
from api.services.customers import current_record
from api.services.refunds import judge_request
from api.services.workflow_calls import execute_update, staff_update_id, start_case
from db.models import Complaint, Course, DepartmentMember, IntakeMessage, Order, User
from db.sla_store import sla_terms
from db.snapshots import course_snapshot, student_snapshot
from domain import temporal_views
from domain.complaints import (
    ComplaintRequest,
    ComplaintStage,
    IntakeChannel,
    RefundOnBehalf,
    complaint_workflow_id,
)
from domain.roles import Role
from domain.timeutil import SHANGHAI, utcnow
from settings import Settings
from workflows.complaint import ComplaintWorkflow

# Who reads any complaint; who acts on them.
COMPLAINT_READERS = frozenset({Role.AGENT, Role.LEAD, Role.ADMIN})
COMPLAINT_HANDLERS = frozenset({Role.AGENT, Role.LEAD})


def survey_token(settings: Settings, complaint_id: str) -> str:
    """What lets the follow-up survey be answered without signing in (a WeChat-only customer has
    no password): an HMAC of the complaint id, so a link cannot be made for another complaint."""
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"survey:{complaint_id}".encode(), hashlib.sha256).hexdigest()[:32]


def survey_link(settings: Settings, complaint_id: str) -> str:
    return f"{settings.callback_base_url}/survey/{complaint_id}?t={survey_token(settings, complaint_id)}"


def new_complaint_id() -> str:
    """CP + Shanghai date + 10 hex digits: short enough to read out on the phone."""
    return f"CP{utcnow().astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(5).upper()}"


def _prepare(
    session: Session,
    settings: Settings,
    *,
    filer: User,
    student_id: str,
    channel: IntakeChannel,
    text: str,
    order_id: str | None,
    intake_id: str | None = None,
) -> tuple[Complaint, ComplaintRequest]:
    student = session.get(User, student_id)
    if student is None or student.role != Role.STUDENT.value:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {student_id}")
    student = current_record(session, student)  # a merged record's complaints go to the survivor
    course = None
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is None or order.student_id != student.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id} of this student")
        course = session.get(Course, order.course_id)
    complaint_id = new_complaint_id()
    now = utcnow()
    complaint = Complaint(
        id=complaint_id,
        workflow_id=complaint_workflow_id(complaint_id),
        student_id=student.id,
        channel=channel.value,
        text=text,
        order_id=order_id,
        logged_by=filer.id,
        stage=ComplaintStage.RECEIVED.value,
        received_at=now,
        updated_at=now,
    )
    session.add(complaint)
    if intake_id is not None:
        # The channel's delivery, in the same transaction: a second delivery of it fails here on
        # the key and writes nothing (the caller answers with the first one's complaint).
        session.flush()
        session.add(
            IntakeMessage(
                id=intake_id,
                channel=channel.value,
                student_id=student.id,
                complaint_id=complaint_id,
                outcome="complaint",
                received_at=now,
            )
        )
    session.commit()
    request = ComplaintRequest(
        complaint_id=complaint_id,
        student=student_snapshot(student),
        channel=channel,
        text=text,
        order_id=order_id,
        course=course_snapshot(course) if course else None,
        received_at=now,
        logged_by=filer.id,
        sla=sla_terms(session),  # the terms in force now; an edit later never reaches this complaint
        survey_url=survey_link(settings, complaint_id),
        sms_quiet_hours=settings.sms_quiet_hours_window,
        follow_up_after_minutes=settings.complaint_follow_up_after_minutes,
        survey_open_minutes=settings.complaint_survey_open_minutes,
    )
    return complaint, request


def _take_back(session: Session, complaint_id: str) -> None:
    """Delete a complaint row whose workflow never started (and the delivery that brought it, so the
    channel's next attempt is taken)."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is not None and complaint.stage == ComplaintStage.RECEIVED.value:
        for delivery in session.exec(select(IntakeMessage).where(IntakeMessage.complaint_id == complaint_id)):
            session.delete(delivery)
        session.flush()
        session.delete(complaint)
        session.commit()


async def file_complaint(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    filer: User,
    student_id: str,
    channel: IntakeChannel,
    text: str,
    order_id: str | None,
    intake_id: str | None = None,
) -> tuple[Complaint, ComplaintRequest]:
    """Commit the complaint row (with the intake channel's delivery `intake_id`, if any), then start
    its workflow with the request returned beside the row (its SLA snapshot is what the complaint is
    judged by); raises IntegrityError when that delivery was taken already."""
    complaint, request = await run_in_threadpool(
        partial(
            _prepare,
            session,
            settings,
            filer=filer,
            student_id=student_id,
            channel=channel,
            text=text,
            order_id=order_id,
            intake_id=intake_id,
        )
    )
    session.close()  # hold no database connection while waiting on Temporal

    async def start(client: Client) -> None:
        await client.start_workflow(
            ComplaintWorkflow.run,
            request,
            id=complaint.workflow_id,
            task_queue=settings.task_queue,
            **temporal_views.complaint_start_options(request),
        )

    await start_case(
        temporal=temporal,
        settings=settings,
        workflow_id=complaint.workflow_id,
        start=start,
        take_back=partial(_take_back, session, complaint.id),
        unavailable="the complaint service is unavailable and nothing was submitted; please try again",
    )
    return complaint, request


def readable_complaint(*, session: Session, user: User, complaint_id: str) -> Complaint:
    """A student sees their own; complaint staff see any. Anything else is "not found"."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or not (Role(user.role) in COMPLAINT_READERS or complaint.student_id == user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no complaint {complaint_id}")
    return complaint


def list_complaints(
    *, session: Session, user: User, stage: ComplaintStage | None, limit: int, offset: int
) -> list[Complaint]:
    """A student's own, newest first; an agent's department queues and what is assigned to them,
    the soonest deadline first; leads and admins see every complaint that way."""
    query = select(Complaint)
    if stage is not None:
        query = query.where(Complaint.stage == stage.value)
    role = Role(user.role)
    if role is Role.STUDENT:
        query = query.where(Complaint.student_id == user.id).order_by(col(Complaint.received_at).desc())
    elif role in COMPLAINT_READERS:
        if role is Role.AGENT:
            departments = select(DepartmentMember.department).where(DepartmentMember.user_id == user.id)
            query = query.where(
                or_(col(Complaint.department).in_(departments), Complaint.assigned_to == user.id)
            )
        query = query.order_by(
            col(Complaint.first_responded_at).is_not(None),  # unanswered first
            col(Complaint.first_response_due_at),
            col(Complaint.resolution_due_at),
        )
    else:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "complaints are for students and complaint staff")
    return list(session.exec(query.offset(offset).limit(limit)))


# What an Idempotency-Key may be (the API's header, the console's hidden field).
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,100}")


async def act_on_complaint(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    user: User,
    complaint_id: str,
    update: Any,
    argument: Any,
    idempotency_key: str | None = None,
) -> Any:
    """Run a person's action on a complaint. With an idempotency key, sending it again (after a 503
    whose action may have been taken all the same) takes it once: the key names the update."""
    complaint = await run_in_threadpool(
        partial(readable_complaint, session=session, user=user, complaint_id=complaint_id)
    )
    session.close()
    return await execute_update(
        temporal=temporal,
        settings=settings,
        run=ComplaintWorkflow.run,
        workflow_id=complaint.workflow_id,
        update=update,
        argument=argument,
        update_id=staff_update_id(user, update, idempotency_key) if idempotency_key else None,
        finished=lambda: HTTPException(
            status.HTTP_409_CONFLICT,
            f"complaint {complaint_id} is {complaint.stage}; it takes no more actions",
        ),
    )


def refund_on_behalf(
    session: Session,
    *,
    user: User,
    complaint_id: str,
    order_id: str | None,
    reason: str,
    amount_fen: int | None,
) -> RefundOnBehalf:
    """The agent's ask, checked as the student's own request would be (404 for an order not the
    student's, 422 for an amount beyond what is left) before the workflow is asked."""
    complaint = readable_complaint(session=session, user=user, complaint_id=complaint_id)
    order_id = order_id or complaint.order_id
    if order_id is None:
        raise field_error("order_id", "name the order to refund; the complaint names none")
    student = session.get(User, complaint.student_id)
    assert student is not None  # complaints reference students by foreign key
    judge_request(session=session, student=student, order_id=order_id, requested_fen=amount_fen)
    return RefundOnBehalf(
        order_id=order_id, reason=reason, amount_fen=amount_fen, by=user.id, by_name=user.display_name
    )
