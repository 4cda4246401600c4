"""Complaints: a student files one from the form (an agent logs a call, an email, a chat for a
student); the queues; the detail with its timeline and notices; and every action, each a
ComplaintWorkflow update whose validator refuses the wrong state before anything is written."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, status
from pydantic import AwareDatetime, BaseModel, Field, StrictInt, model_validator
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, PageLimit, PageOffset, SessionDep, SettingsDep, TemporalDep, require_roles
from api.errors import field_error, refusals
from api.routes.case_views import NoticeSent, TimelineItem, case_history
from api.services import compensation, root_causes
from api.services import complaints as service
from api.services.root_causes import REPORT_STAFF
from api.services.workflow_calls import query_case
from db.models import Complaint, User
from domain.compensation import MAX_COUPON_FEN, CompensationDecision, CompensationKind
from domain.complaint_report import RootCauseText
from domain.complaints import (
    INTERNAL_EVENTS,
    AgentNote,
    AgentReply,
    CompensationReceipt,
    ComplaintCategory,
    ComplaintProgress,
    ComplaintReceipt,
    ComplaintResolution,
    ComplaintStage,
    ComplaintTimelineEntry,
    CustomerMessage,
    Department,
    Escalation,
    IntakeChannel,
    RefundFollowed,
    Reopening,
    ResolutionCode,
    Severity,
    SurveyAnswer,
    Transfer,
    VideoInvitation,
    VideoInvited,
)
from domain.roles import Role
from domain.text import NO_CONTROL_CHARACTERS
from workflows.complaint import ComplaintWorkflow

router = APIRouter(prefix="/api/complaints", tags=["complaints"], responses=refusals(401))
# Every action is a workflow update: 404 for a complaint the caller may not see, 409 when its stage
# takes no such action, 503 when the workflow service does not answer.
ACTION_REFUSALS = refusals(403, 404, 409, 503)


class ComplaintActions:
    """What every action on a complaint needs (the database, Temporal, the settings, the caller's
    Idempotency-Key), in one."""

    def __init__(
        self,
        session: SessionDep,
        temporal: TemporalDep,
        settings: SettingsDep,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                pattern=f"^{service.IDEMPOTENCY_KEY.pattern}$",
                description="Sending an action again with the same key (after a 503 or no answer at all) "
                "applies it once and answers as the first time did.",
            ),
        ] = None,
    ) -> None:
        self.session, self.temporal, self.settings = session, temporal, settings
        self.idempotency_key = idempotency_key

    async def run(self, user: User, complaint_id: str, update: Any, argument: Any) -> ComplaintReceipt:
        return await service.act_on_complaint(
            session=self.session,
            temporal=self.temporal,
            settings=self.settings,
            user=user,
            complaint_id=complaint_id,
            update=update,
            argument=argument,
            idempotency_key=self.idempotency_key,
        )


Actions = Annotated[ComplaintActions, Depends()]
Handler = Annotated[User, Depends(require_roles(*service.COMPLAINT_HANDLERS))]
ComplaintText = Annotated[str, Field(min_length=5, max_length=4000), NO_CONTROL_CHARACTERS]


class ComplaintIn(BaseModel):
    text: ComplaintText
    order_id: str | None = Field(default=None, max_length=64)
    # When staff log a complaint for a student (a call, an email, a chat): whose, and how it came.
    student_id: str | None = Field(default=None, max_length=64)
    channel: IntakeChannel = IntakeChannel.WEB_FORM

    @model_validator(mode="after")
    def _web_form_or_staff_channel(self) -> ComplaintIn:
        if (self.student_id is None) != (self.channel is IntakeChannel.WEB_FORM):
            raise ValueError(
                "a student uses the web form; staff give the student_id and the channel it came by"
            )
        return self


class ComplaintAccepted(BaseModel):
    complaint_id: str
    workflow_id: str
    stage: ComplaintStage


class ComplaintOut(BaseModel):
    complaint_id: str
    student_id: str
    channel: IntakeChannel
    text: str
    order_id: str | None
    stage: ComplaintStage
    category: ComplaintCategory | None
    severity: Severity | None
    department: Department | None
    assigned_to: str | None
    first_response_due_at: AwareDatetime | None
    resolution_due_at: AwareDatetime | None
    first_responded_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    resolution_code: ResolutionCode | None
    resolution_summary: str | None
    satisfied: bool | None
    sla_breached: bool
    received_at: AwareDatetime

    @classmethod
    def of(cls, complaint: Complaint) -> ComplaintOut:
        return cls(
            complaint_id=complaint.id,
            **complaint.model_dump(exclude={"id", "workflow_id", "logged_by", "updated_at"}),
        )


class ComplaintDetail(ComplaintOut):
    timeline: list[TimelineItem]
    notices: list[NoticeSent]


class TextIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=4000), NO_CONTROL_CHARACTERS]


class ResolutionIn(BaseModel):
    code: ResolutionCode
    summary: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ComplaintAccepted,
    responses=refusals(403, 404, 503, meanings={404: "no such student, or no such order of theirs"}),
)
async def file_complaint(
    body: ComplaintIn,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(require_roles(Role.STUDENT, *service.COMPLAINT_HANDLERS))],
) -> ComplaintAccepted:
    """The student is told at once that it arrived and by when they will hear back."""
    if user.role == Role.STUDENT.value and body.student_id is not None:
        raise field_error("student_id", "students file complaints for themselves")
    if user.role != Role.STUDENT.value and body.student_id is None:
        raise field_error("student_id", "staff log a complaint for a student: give the student_id")
    complaint, _request = await service.file_complaint(
        session=session,
        temporal=temporal,
        settings=settings,
        filer=user,
        student_id=body.student_id or user.id,
        channel=body.channel,
        text=body.text,
        order_id=body.order_id,
    )
    return ComplaintAccepted(
        complaint_id=complaint.id, workflow_id=complaint.workflow_id, stage=ComplaintStage(complaint.stage)
    )


@router.get("", response_model=list[ComplaintOut], responses=refusals(403))
def list_complaints(
    session: SessionDep,
    user: CurrentUser,
    stage: ComplaintStage | None = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> list[ComplaintOut]:
    complaints = service.list_complaints(session=session, user=user, stage=stage, limit=limit, offset=offset)
    return [ComplaintOut.of(complaint) for complaint in complaints]


@router.get("/{complaint_id}", response_model=ComplaintDetail, responses=refusals(404))
def get_complaint(complaint_id: str, session: SessionDep, user: CurrentUser) -> ComplaintDetail:
    complaint = service.readable_complaint(session=session, user=user, complaint_id=complaint_id)
    timeline, notices = case_history(
        session=session,
        user=user,
        case_type="complaint",
        case_id=complaint.id,
        internal_events=INTERNAL_EVENTS,  # notes and tags stay internal
    )
    return ComplaintDetail(**ComplaintOut.of(complaint).model_dump(), timeline=timeline, notices=notices)


class ComplaintLive(BaseModel):
    """What the complaint's workflow says right now: where it stands (the sentence the Temporal UI
    shows), its clocks, and its steps (internal notes included: staff only)."""

    progress: ComplaintProgress
    timeline: list[ComplaintTimelineEntry]


@router.get("/{complaint_id}/live", response_model=ComplaintLive, responses=refusals(403, 404, 503))
async def get_complaint_live(
    complaint_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(require_roles(*service.COMPLAINT_READERS))],
) -> ComplaintLive:
    """Asked of the workflow itself (its `status` and `timeline` queries); 503 when it cannot answer."""
    complaint = service.readable_complaint(session=session, user=user, complaint_id=complaint_id)
    session.close()  # hold no database connection while waiting on Temporal
    progress, timeline = await query_case(
        temporal=temporal,
        settings=settings,
        run=ComplaintWorkflow.run,
        workflow_id=complaint.workflow_id,
        queries=[ComplaintWorkflow.status, ComplaintWorkflow.timeline],
    )
    return ComplaintLive(progress=progress, timeline=timeline)


@router.post("/{complaint_id}/responses", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def respond(
    complaint_id: str,
    body: TextIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    """A reply the student sees (the first one stops the first-response clock)."""
    reply = AgentReply(text=body.text, agent_id=agent.id, agent_name=agent.display_name)
    return await actions.run(agent, complaint_id, ComplaintWorkflow.respond, reply)


@router.post("/{complaint_id}/questions", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def ask_customer(
    complaint_id: str,
    body: TextIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    """Ask the student for information: they see it, and the clock stops until they answer."""
    question = AgentReply(text=body.text, agent_id=agent.id, agent_name=agent.display_name)
    return await actions.run(agent, complaint_id, ComplaintWorkflow.ask_customer, question)


@router.post("/{complaint_id}/messages", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def customer_message(
    complaint_id: str,
    body: TextIn,
    actions: Actions,
    student: Annotated[User, Depends(require_roles(Role.STUDENT))],
) -> ComplaintReceipt:
    """The student adds to their complaint (an answer to a question restarts the clock)."""
    return await actions.run(
        student, complaint_id, ComplaintWorkflow.customer_message, CustomerMessage(text=body.text)
    )


class TransferIn(BaseModel):
    department: Department
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]


@router.post("/{complaint_id}/transfer", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def transfer(
    complaint_id: str,
    body: TransferIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    """Another department takes it (its least-loaded member); the deadlines stay as they were."""
    return await actions.run(
        agent,
        complaint_id,
        ComplaintWorkflow.transfer,
        Transfer(department=body.department, reason=body.reason, by=agent.id),
    )


@router.post("/{complaint_id}/escalation", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def escalate(
    complaint_id: str,
    body: ReasonIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    """Hand it to a lead now, before any deadline passes: severity up, staff chat told."""
    escalation = Escalation(reason=body.reason, by=agent.id, by_name=agent.display_name)
    return await actions.run(agent, complaint_id, ComplaintWorkflow.escalate, escalation)


@router.post("/{complaint_id}/notes", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def add_note(
    complaint_id: str,
    body: TextIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    """An internal note: staff see it in the timeline, the student does not."""
    return await actions.run(
        agent, complaint_id, ComplaintWorkflow.add_note, AgentNote(text=body.text, agent_id=agent.id)
    )


@router.post("/{complaint_id}/resolution", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def resolve(
    complaint_id: str,
    body: ResolutionIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    resolution = ComplaintResolution(
        code=body.code, summary=body.summary, agent_id=agent.id, agent_name=agent.display_name
    )
    return await actions.run(agent, complaint_id, ComplaintWorkflow.resolve, resolution)


@router.post("/{complaint_id}/reopen", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def reopen(
    complaint_id: str,
    body: ReasonIn,
    actions: Actions,
    agent: Handler,
) -> ComplaintReceipt:
    return await actions.run(
        agent, complaint_id, ComplaintWorkflow.reopen, Reopening(reason=body.reason, by=agent.id)
    )


@router.post("/{complaint_id}/survey", response_model=ComplaintReceipt, responses=ACTION_REFUSALS)
async def answer_survey(
    complaint_id: str,
    body: SurveyAnswer,
    actions: Actions,
    student: Annotated[User, Depends(require_roles(Role.STUDENT))],
) -> ComplaintReceipt:
    """The follow-up visit's answer: satisfied archives it, not satisfied reopens it."""
    return await actions.run(student, complaint_id, ComplaintWorkflow.answer_survey, body)


class CompensationIn(BaseModel):
    kind: CompensationKind
    amount_fen: int | None = Field(default=None, ge=1, le=MAX_COUPON_FEN)  # a coupon's value
    order_id: str | None = Field(default=None, max_length=64)  # a reset's order (default: the complaint's)
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]

    @model_validator(mode="after")
    def _what_each_kind_needs(self) -> CompensationIn:
        if self.kind is CompensationKind.COUPON and (self.amount_fen is None or self.order_id):
            raise ValueError("a coupon gives amount_fen and names no order")
        if self.kind is CompensationKind.PROGRESS_RESET and self.amount_fen is not None:
            raise ValueError("a progress reset has no amount")
        return self


class DecisionIn(BaseModel):
    approve: bool
    note: Annotated[str, Field(max_length=1000), NO_CONTROL_CHARACTERS] = ""

    @model_validator(mode="after")
    def _a_refusal_says_why(self) -> DecisionIn:
        if not self.approve and not self.note.strip():
            raise ValueError("say why the offer is declined (note)")
        return self


@router.post("/{complaint_id}/compensations", response_model=CompensationReceipt, responses=ACTION_REFUSALS)
async def compensate(
    complaint_id: str, body: CompensationIn, actions: Actions, agent: Handler
) -> CompensationReceipt:
    """A coupon or a course's progress reset: given at once within the caller's quota for the
    period, otherwise waiting for a lead (status awaiting_approval)."""
    offer = await run_in_threadpool(
        partial(
            compensation.make_offer,
            actions.session,
            user=agent,
            complaint_id=complaint_id,
            **body.model_dump(),
        )
    )
    return await actions.run(agent, complaint_id, ComplaintWorkflow.compensate, offer)


@router.post(
    "/{complaint_id}/compensations/{compensation_id}/decision",
    response_model=CompensationReceipt,
    responses=ACTION_REFUSALS,
)
async def decide_compensation(
    complaint_id: str,
    compensation_id: str,
    body: DecisionIn,
    actions: Actions,
    lead: Annotated[User, Depends(require_roles(Role.LEAD))],
) -> CompensationReceipt:
    """A lead approves (it is given now) or declines, with a note, someone else's offer."""
    await run_in_threadpool(
        partial(
            compensation.check_decision,
            actions.session,
            lead=lead,
            complaint_id=complaint_id,
            compensation_id=compensation_id,
        )
    )
    decision = CompensationDecision(
        compensation_id=compensation_id,
        approve=body.approve,
        note=body.note,
        by=lead.id,
        by_name=lead.display_name,
    )
    return await actions.run(lead, complaint_id, ComplaintWorkflow.decide_compensation, decision)


class RefundAskIn(BaseModel):
    order_id: str | None = Field(default=None, max_length=64)  # default: the complaint's order
    reason: Annotated[str, Field(min_length=1, max_length=1000), NO_CONTROL_CHARACTERS]
    amount_fen: StrictInt | None = Field(default=None, ge=1)  # default: all that is left


@router.post("/{complaint_id}/refund", response_model=RefundFollowed, responses=ACTION_REFUSALS)
async def request_refund(
    complaint_id: str, body: RefundAskIn, actions: Actions, agent: Handler
) -> RefundFollowed:
    """The complaint is a refund request: the refund of the student's order starts as its own
    workflow (judged by the same policy as the student's own request) and the complaint follows it."""
    ask = await run_in_threadpool(
        partial(
            service.refund_on_behalf,
            actions.session,
            user=agent,
            complaint_id=complaint_id,
            order_id=body.order_id,
            reason=body.reason,
            amount_fen=body.amount_fen,
        )
    )
    return await actions.run(agent, complaint_id, ComplaintWorkflow.request_refund, ask)


class VideoInvitationIn(BaseModel):
    starts_at: AwareDatetime | None = None  # None: now
    note: Annotated[str, Field(max_length=500), NO_CONTROL_CHARACTERS] = ""


@router.post("/{complaint_id}/video-room", response_model=VideoInvited, responses=ACTION_REFUSALS)
async def invite_to_video(
    complaint_id: str, body: VideoInvitationIn, actions: Actions, agent: Handler
) -> VideoInvited:
    """Open a video support room; the student is invited on their channels with its link."""
    invitation = VideoInvitation(
        starts_at=body.starts_at, note=body.note, by=agent.id, by_name=agent.display_name
    )
    return await actions.run(agent, complaint_id, ComplaintWorkflow.invite_to_video, invitation)


class RootCauseIn(BaseModel):
    root_cause: RootCauseText | None  # required: null clears the tag, a PUT that forgot it does not


class RootCauseOut(BaseModel):
    complaint_id: str
    root_cause: str | None
    root_cause_by: str | None
    root_cause_at: AwareDatetime | None


# A tag is chained in the audit trail: 503 when other writers keep the chain busy.
@router.put("/{complaint_id}/root-cause", response_model=RootCauseOut, responses=refusals(403, 404, 503))
def tag_root_cause(
    complaint_id: str,
    body: RootCauseIn,
    session: SessionDep,
    lead: Annotated[User, Depends(require_roles(*REPORT_STAFF))],
) -> RootCauseOut:
    """A lead's tag of what lay behind the complaint, for the monthly report. Not a workflow step:
    any complaint can be tagged, archived ones too."""
    complaint = root_causes.tag_root_cause(
        session, lead=lead, complaint_id=complaint_id, root_cause=body.root_cause
    )
    return RootCauseOut(
        complaint_id=complaint.id,
        root_cause=complaint.root_cause,
        root_cause_by=complaint.root_cause_by,
        root_cause_at=complaint.root_cause_at,
    )
