"""Complaints that arrive by email (the mail provider's inbound relay calls us) and by live chat
(staff post the finished chat's transcript). WeChat has its own protocol: wechat_official.py."""

from __future__ import annotations

import hashlib
import json
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep, TemporalDep, require_roles
from api.errors import field_error, refusals
from api.request_body import body_or_413
from api.services.complaints import COMPLAINT_HANDLERS
from api.services.customers import NotACustomer, resolve_customer
from api.services.intake import Taken, open_complaint_of, take_message
from db.models import User
from domain.complaints import IntakeChannel
from domain.customers import CustomerRef, normalize_email
from domain.intake_text import ChatLine, complaint_id_in, email_follow_up_text, email_text, transcript_text
from domain.text import NO_CONTROL_CHARACTERS
from integrations import signed_post

router = APIRouter(prefix="/api/intake", tags=["intake"])

MAX_EMAIL_BYTES = 2 * 1024 * 1024  # text only: attachments stay with the mail provider


class IntakeAnswer(BaseModel):
    complaint_id: str
    outcome: Literal["complaint", "message"]  # opened a complaint, or added to an open one
    duplicate: bool  # delivered before: nothing new was written
    customer_id: str
    customer_created: bool


def _answer(taken: Taken, customer: User, created: bool, response: Response) -> IntakeAnswer:
    response.status_code = status.HTTP_200_OK if taken.duplicate else status.HTTP_202_ACCEPTED
    return IntakeAnswer(
        complaint_id=taken.complaint_id,
        outcome=taken.outcome,
        duplicate=taken.duplicate,
        customer_id=customer.id,
        customer_created=created,
    )


# --- email ----------------------------------------------------------------------------------------


class InboundEmail(BaseModel):
    """One email as the inbound relay hands it over (the dev mailbox sends the same shape)."""

    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(alias="from", min_length=3, max_length=998)  # the From header
    to: list[Annotated[str, Field(max_length=998)]] = Field(min_length=1, max_length=100)  # envelope
    subject: str = Field(default="", max_length=998)
    text: str = Field(default="", max_length=1_000_000)  # the plain-text body
    message_id: str = Field(min_length=1, max_length=998)


def _display_name(header: str) -> str:
    """The sender's name from a From header, RFC 2047 words decoded (`=?utf-8?b?…?=`)."""
    name = parseaddr(header)[0]
    try:
        return str(make_header(decode_header(name)))
    except (UnicodeDecodeError, LookupError, ValueError):
        return name


def _addresses(values: list[str]) -> set[str]:
    found = set()
    for _, address in getaddresses(values):
        try:
            found.add(normalize_email(address))
        except ValueError:
            continue
    return found


async def _signed_email(request: Request, secret: str) -> InboundEmail:
    limits = request.app.state.rate_limits
    address = limits.webhook(request, "intake_email")
    body = await body_or_413(request, MAX_EMAIL_BYTES, "email")
    with limits.refusals_counted(address):
        if not signed_post.verify(
            secret,
            request.headers.get("X-Aftercare-Timestamp", ""),
            request.headers.get("X-Aftercare-Signature", ""),
            body,
        ):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "signature does not match or is too old")
    try:
        return InboundEmail.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors]) from exc


@router.post(
    "/email",
    response_model=IntakeAnswer,
    responses={
        200: {"description": "delivered before: nothing changed"},
        202: {"model": IntakeAnswer, "description": "taken"},
    }
    # The body is read by hand (its signature covers the bytes), so FastAPI declares no 422 itself.
    | refusals(
        401,
        413,
        422,
        429,
        503,
        meanings={
            401: "not signed with the intake secret, or signed too long ago",
            503: "the intake secret is not configured, or the workflow service did not answer",
        },
    ),
)
async def inbound_email(
    request: Request, response: Response, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> IntakeAnswer:
    """An email to the complaints inbox, signed by the relay (X-Aftercare-Timestamp and
    X-Aftercare-Signature, as integrations/signed_post.py says, with AFTERCARE_INTAKE_SECRET). The
    sender's address names the customer; a Message-ID seen before changes nothing; a subject naming
    an open complaint of theirs ("Re: … CP2026…") adds the new part of the email to it."""
    secret = settings.intake_secret_in_force
    if secret is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "AFTERCARE_INTAKE_SECRET is not configured")
    mail = await _signed_email(request, secret)
    inbox = normalize_email(settings.complaint_inbox_address)
    if inbox not in _addresses(mail.to):
        raise field_error("to", f"only mail to the complaints inbox {inbox} is taken")
    try:
        sender = normalize_email(mail.sender)
    except ValueError as exc:
        raise field_error("from", str(exc)) from exc
    if sender in {inbox, *_addresses([settings.mail_from])}:
        raise field_error("from", "mail from Aftercare itself is not a complaint")  # no mail loops
    if not email_text(mail.subject, mail.text):
        raise field_error("text", "the email has neither a subject nor any text")
    message_id = mail.message_id.strip().strip("<>").strip()
    if not message_id:
        raise field_error("message_id", "an empty Message-ID cannot tell a redelivery from a new email")
    try:
        customer, created = await run_in_threadpool(
            resolve_customer, session, CustomerRef(email=sender), name=_display_name(mail.sender)
        )
    except NotACustomer as exc:
        raise field_error("from", str(exc)) from exc
    replied_to = complaint_id_in(mail.subject)
    complaint = (
        await run_in_threadpool(lambda: open_complaint_of(session, customer, complaint_id=replied_to))
        if replied_to
        else None
    )
    # A reply to a closed complaint (or to someone else's) is a new complaint in its own right.
    text = email_follow_up_text(mail.subject, mail.text) if complaint else email_text(mail.subject, mail.text)
    taken = await take_message(
        session=session,
        temporal=temporal,
        settings=settings,
        channel=IntakeChannel.EMAIL,
        delivery_id=message_id,
        customer=customer,
        filer=customer,
        text=text,
        follow_up_of=complaint,
    )
    return _answer(taken, customer, created, response)


# --- live chat ------------------------------------------------------------------------------------


class LiveChatIn(BaseModel):
    customer: CustomerRef  # whoever the chat was with, by any one identifier
    # The name for a new record.
    name: Annotated[str, Field(min_length=1, max_length=100), NO_CONTROL_CHARACTERS] | None = None
    # The chat system's id for the conversation: posting it twice makes one complaint. Without it,
    # the same transcript posted twice for the same customer still does.
    chat_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-.:@]+$")] | None = (
        None
    )
    transcript: list[ChatLine] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _the_student_spoke(self) -> LiveChatIn:
        if not any(line.speaker == "student" for line in self.transcript):
            raise ValueError("the transcript has no line of the student's: there is nothing to complain of")
        return self

    def delivery_id(self) -> str:
        if self.chat_id:
            return self.chat_id
        canonical = json.dumps(
            [
                self.customer.kind.value,
                self.customer.value,
                [line.model_dump(mode="json") for line in self.transcript],
            ],
            ensure_ascii=False,
            sort_keys=True,
        )
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@router.post(
    "/live-chat",
    response_model=IntakeAnswer,
    responses={
        200: {"description": "posted before: nothing changed"},
        202: {"model": IntakeAnswer, "description": "taken"},
    }
    | refusals(401, 403, 404, 503, meanings={404: "no student of that student id"}),
)
async def live_chat_transcript(
    body: LiveChatIn,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    agent: Annotated[User, Depends(require_roles(*COMPLAINT_HANDLERS))],
) -> IntakeAnswer:
    """A finished chat becomes a complaint (channel live_chat) whose text is the transcript."""
    try:
        customer, created = await run_in_threadpool(resolve_customer, session, body.customer, name=body.name)
    except NotACustomer as exc:
        raise field_error("customer", str(exc)) from exc
    taken = await take_message(
        session=session,
        temporal=temporal,
        settings=settings,
        channel=IntakeChannel.LIVE_CHAT,
        delivery_id=body.delivery_id(),
        customer=customer,
        filer=agent,
        text=transcript_text(body.transcript),
    )
    return _answer(taken, customer, created, response)
