"""What arrives by an intake channel — an email, a WeChat message, a chat transcript — taken once:
it opens a complaint for the customer it came from, or, when it follows up an open complaint of
theirs, is added to it as the student's message (ComplaintWorkflow's `customer_message`).

"Once" is the `intake_messages` row, keyed by the channel's own id for the message (Message-ID,
MsgId, the chat's id) and written in the same transaction as the complaint it opens, or just
before the update that adds it — and taken back if that update cannot run, so the channel's next
delivery is taken instead of being answered "done". The update carries the same key as its
Temporal update id, so a redelivery that races a lost answer is applied once."""

from __future__ import annotations

import hashlib
from typing import Literal

from fastapi import HTTPException, status
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.deps import TemporalClientProvider
from api.services.complaints import file_complaint
from api.services.customers import customer_ids
from api.services.workflow_calls import execute_update
from db.models import Complaint, IntakeMessage, User
from db.sla_store import sla_terms
from domain.complaints import (
    TAKES_CUSTOMER_MESSAGES,
    ComplaintCategory,
    CustomerMessage,
    IntakeChannel,
    SlaTerms,
    classify,
)
from domain.intake_text import COMPLAINT_TEXT_LIMIT
from settings import Settings
from workflows.complaint import ComplaintWorkflow

ID_LIMIT = 200  # db.models.IntakeMessage.id


class Taken(BaseModel):
    complaint_id: str
    outcome: Literal["complaint", "message"]  # opened a complaint, or added to an open one
    duplicate: bool  # delivered before: nothing new was written
    first_response_minutes: int  # the complaint's promised first response (its category's SLA)


def intake_id(channel: IntakeChannel, delivery_id: str) -> str:
    """`<channel>:<the channel's id>`; an id too long for the column is kept as its hash."""
    key = f"{channel.value}:{delivery_id}"
    if len(key) > ID_LIMIT:
        key = f"{channel.value}:sha256:{hashlib.sha256(delivery_id.encode()).hexdigest()}"
    return key


def promised_first_response_minutes(
    text: str, channel: IntakeChannel, sla: dict[ComplaintCategory, SlaTerms]
) -> int:
    """What the workflow will promise: in `sla`, the category its triage will find (the same pure
    function, on the same text)."""
    return sla[classify(text, channel).category].first_response_minutes


def _promised_for(session: Session, complaint: Complaint) -> int:
    """The promise for a complaint filed earlier, by the terms in force now. Its own snapshot is in
    its workflow's input only; they differ only when an admin edited the SLA since, and the answers
    that carry this (a redelivery, an added message) come seconds or minutes after the first."""
    channel = IntakeChannel(complaint.channel)
    return promised_first_response_minutes(complaint.text, channel, sla_terms(session))


def _taken_before(session: Session, key: str) -> Taken | None:
    delivery = session.get(IntakeMessage, key)
    if delivery is None:
        return None
    complaint = session.get(Complaint, delivery.complaint_id)
    assert complaint is not None  # intake_messages.complaint_id is a foreign key
    return Taken(
        complaint_id=complaint.id,
        outcome=delivery.outcome,  # type: ignore[arg-type]
        duplicate=True,
        first_response_minutes=_promised_for(session, complaint),
    )


def open_complaint_of(
    session: Session, customer: User, *, complaint_id: str | None = None, channel: IntakeChannel | None = None
) -> Complaint | None:
    """The customer's complaint that still takes their messages: `complaint_id` if it is theirs and
    open, else (given a channel) their latest open one filed by that channel."""
    query = select(Complaint).where(
        col(Complaint.student_id).in_(customer_ids(session, customer.id)),
        col(Complaint.stage).in_([stage.value for stage in TAKES_CUSTOMER_MESSAGES]),
    )
    if complaint_id is not None:
        query = query.where(Complaint.id == complaint_id)
    elif channel is not None:
        query = query.where(Complaint.channel == channel.value)
    else:
        return None
    return session.exec(query.order_by(col(Complaint.received_at).desc())).first()


def _claim(session: Session, key: str, channel: IntakeChannel, customer: User, complaint: Complaint) -> bool:
    """Write the delivery row for a message added to `complaint`; False if it was taken already."""
    session.add(
        IntakeMessage(
            id=key,
            channel=channel.value,
            student_id=customer.id,
            complaint_id=complaint.id,
            outcome="message",
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def _release(session: Session, key: str) -> None:
    delivery = session.get(IntakeMessage, key)
    if delivery is not None:
        session.delete(delivery)
        session.commit()


async def take_message(
    *,
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    channel: IntakeChannel,
    delivery_id: str,
    customer: User,
    filer: User,
    text: str,
    follow_up_of: Complaint | None = None,
    order_id: str | None = None,
) -> Taken:
    """Add `text` to `follow_up_of` (an open complaint of the customer), or open a complaint with
    it (about `order_id`, when the customer named one); a delivery seen before changes nothing and
    answers what the first one became."""
    key = intake_id(channel, delivery_id)
    text = text[:COMPLAINT_TEXT_LIMIT]
    earlier = await run_in_threadpool(_taken_before, session, key)
    if earlier is not None:
        return earlier
    if follow_up_of is not None:
        added = await _add_to(session, temporal, settings, key, channel, customer, follow_up_of, text)
        if added is not None:
            return added
    try:
        complaint, request = await file_complaint(
            session=session,
            temporal=temporal,
            settings=settings,
            filer=filer,
            student_id=customer.id,
            channel=channel,
            text=text,
            order_id=order_id,
            intake_id=key,
        )
    except IntegrityError:  # the same delivery, taken by a concurrent request a moment ago
        await run_in_threadpool(session.rollback)
        earlier = await run_in_threadpool(_taken_before, session, key)
        if earlier is None:
            raise
        return earlier
    return Taken(
        complaint_id=complaint.id,
        outcome="complaint",
        duplicate=False,
        first_response_minutes=promised_first_response_minutes(text, channel, request.sla),
    )


async def _add_to(
    session: Session,
    temporal: TemporalClientProvider,
    settings: Settings,
    key: str,
    channel: IntakeChannel,
    customer: User,
    complaint: Complaint,
    text: str,
) -> Taken | None:
    """The message as the student's message on `complaint`; None when the complaint stopped taking
    messages meanwhile (resolved a moment ago), so that the caller opens a new one instead."""
    if not await run_in_threadpool(_claim, session, key, channel, customer, complaint):
        earlier = await run_in_threadpool(_taken_before, session, key)
        assert earlier is not None
        return earlier
    session.close()  # hold no database connection while waiting on Temporal
    try:
        await execute_update(
            temporal=temporal,
            settings=settings,
            run=ComplaintWorkflow.run,
            workflow_id=complaint.workflow_id,
            update=ComplaintWorkflow.customer_message,
            argument=CustomerMessage(text=text),
            finished=lambda: HTTPException(status.HTTP_409_CONFLICT, f"complaint {complaint.id} is closed"),
            update_id=f"intake-{hashlib.sha256(key.encode()).hexdigest()[:40]}",
        )
    except HTTPException as exc:
        await run_in_threadpool(_release, session, key)
        if exc.status_code == status.HTTP_409_CONFLICT:
            return None
        raise
    except BaseException:
        await run_in_threadpool(_release, session, key)
        raise
    return Taken(
        complaint_id=complaint.id,
        outcome="message",
        duplicate=False,
        first_response_minutes=await run_in_threadpool(_promised_for, session, complaint),
    )
