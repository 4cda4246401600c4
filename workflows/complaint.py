"""ComplaintWorkflow (`complaint-<complaint_id>`): one student's problem from the first word to the
archive, so it never falls between departments or waits unseen.

received → triaged (classified from the text) → assigned (a department's queue, an agent) →
in_progress (the first customer-visible reply) → resolved → follow_up (a survey after a delay; an
unsatisfied answer reopens it) → archived. Two SLA clocks run beside it — first response and
resolution — each warning the assignee at 80% and, on breach, telling the lead (inbox and staff
chat), raising the severity and setting `SlaBreached`. Agents act through updates with validators.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from workflows.compensation import CompensationDesk
from workflows.messenger import RECORD_RETRY, RECORD_TIMEOUT, CaseMessenger, record_priority
from workflows.refund import RefundWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.complaints import ComplaintActivities
    from activities.video_rooms import VideoRoomActivities
    from domain import search_attributes, temporal_views
    from domain.compensation import CompensationDecision, CompensationOffer
    from domain.complaints import (
        AFTER_RESOLUTION,
        CATEGORY_LABELS,
        DEPARTMENT_LABELS,
        OPEN_STAGES,
        TAKES_CUSTOMER_MESSAGES,
        AgentNote,
        AgentReply,
        CompensationReceipt,
        ComplaintAssignment,
        ComplaintCarryOver,
        ComplaintCategory,
        ComplaintEvent,
        ComplaintProgress,
        ComplaintReceipt,
        ComplaintRequest,
        ComplaintResolution,
        ComplaintStage,
        ComplaintState,
        ComplaintTimelineEntry,
        CustomerMessage,
        Department,
        Escalation,
        IntakeChannel,
        RefundFollowed,
        RefundIntake,
        RefundOnBehalf,
        Reopening,
        ResolutionCode,
        Severity,
        SlaTerms,
        SurveyAnswer,
        Transfer,
        VideoInvitation,
        VideoInvited,
        classify,
    )
    from domain.notifications import Channel, NoticeEvent
    from domain.refunds import RefundState, RefundStatus, refund_workflow_id
    from domain.sla_events import BREACHED, FIRST_RESPONSE, RESOLUTION, WARNING, complaint_sla_event
    from domain.webhooks import OutboundEventType

# How many of the latest timeline steps a continued run keeps for the `state` query.
TIMELINE_CARRIED = 50
DEADLINE_LABELS = {
    "zh-CN": {FIRST_RESPONSE: "首次响应", RESOLUTION: "解决"},
    "en": {FIRST_RESPONSE: "first response", RESOLUTION: "resolution"},
}


@workflow.defn
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, request: ComplaintRequest) -> None:
        self._request = request
        self._workflow_id = workflow.info().workflow_id
        self._stage = ComplaintStage.RECEIVED
        self._timeline: list[ComplaintTimelineEntry] = []
        self._steps = 0
        self._write = asyncio.Lock()  # one step recorded at a time, in the order they happen
        self._terms: SlaTerms | None = None
        self._category: ComplaintCategory | None = None
        self._severity = Severity.NORMAL
        self._assignment: ComplaintAssignment | None = None
        self._first_response_due: datetime | None = None
        self._resolution_due: datetime | None = None
        self._first_responded = False
        self._resolution: ComplaintResolution | None = None
        self._survey: SurveyAnswer | None = None
        self._reopened = 0  # how often; each reopening restarts the resolution clock
        self._sla_breached = False
        self._paused_at: datetime | None = None  # asked the student for information at
        self._closing = False  # followed up and satisfied: only the archive is left
        self._refund_id: str | None = None  # the refund this complaint asked for and follows
        self._video_rooms = 0  # rooms opened so far: the next invitation's number
        self._resolution_clock_start = request.received_at
        self._warned: set[str] = set()  # deadlines whose 80% warning went out
        self._breached: set[str] = set()  # deadlines that passed
        self._clocks: list[asyncio.Task[None]] = []
        self._runs = 0  # runs before this one (continue-as-new)
        carried = request.carried
        self._messenger = CaseMessenger(
            workflow_id=self._workflow_id,
            case_type="complaint",
            case_id=request.complaint_id,
            student=request.student,
            student_channels=request.notice_channels,
            sms_quiet_hours=request.sms_quiet_hours,
            sent_before=carried.notices_sent if carried else None,
        )
        self._compensation = CompensationDesk(
            complaint_id=request.complaint_id,
            student_id=request.student.id,
            messenger=self._messenger,
            record=lambda event, **fields: self._record(event, None, **fields),
            context=self._context,
            publish=self._publish,
        )
        if carried is not None:
            self._take_over(carried)

    @workflow.run
    async def run(self, request: ComplaintRequest) -> ComplaintState:
        if request.carried is None:
            self._show()
            await self._take_in(request)
        else:  # a continued run: the clocks start again where the last run left them
            self._show()
            self._start_clocks()
        while True:
            await workflow.wait_condition(
                lambda: (
                    self._stage is ComplaintStage.RESOLVED
                    or (self._history_is_long() and self._may_hand_on())
                )
            )
            if self._stage is not ComplaintStage.RESOLVED:
                workflow.continue_as_new(self._request.model_copy(update={"carried": self._carry()}))
            reopened_before = self._reopened
            if await self._followed_up_and_satisfied(reopened_before):
                break
            if self._reopened == reopened_before:  # the student said it is not solved
                await self._reopen(
                    Reopening(reason=self._survey.comment if self._survey else "", by=request.student.id)
                )
            self._survey = None
        self._closing = True
        await workflow.wait_condition(lambda: self._nothing_outstanding)
        await self._record("complaint.archived", ComplaintStage.ARCHIVED, actor="system")
        self._publish(OutboundEventType.COMPLAINT_ARCHIVED)
        await self._messenger.finish()
        await asyncio.gather(*self._clocks)  # each ends once the complaint is archived
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _take_in(self, request: ComplaintRequest) -> None:
        """received → triaged → assigned; the student is told, the clocks start."""
        await self._record(
            "complaint.received",
            ComplaintStage.RECEIVED,
            actor=request.logged_by,
            note=request.text,
            detail={"channel": request.channel.value},
            intake=True,
        )
        triage = classify(request.text, request.channel)
        terms = self._terms = request.sla[triage.category]
        self._category = triage.category
        self._severity = triage.severity
        received = request.received_at
        self._first_response_due = terms.deadline(received, terms.first_response_minutes)
        self._resolution_due = terms.deadline(received, terms.resolution_minutes)
        await self._record(
            "complaint.triaged",
            ComplaintStage.TRIAGED,
            actor="system",
            note=", ".join(triage.matched),
            category=triage.category,
            severity=triage.severity,
            department=terms.department,
            first_response_due_at=self._first_response_due,
            resolution_due_at=self._resolution_due,
        )
        agent_id = await self._assign(terms.department)
        await self._record(
            "complaint.assigned", ComplaintStage.ASSIGNED, actor="system", assigned_to=agent_id
        )
        workflow.upsert_search_attributes(
            [
                search_attributes.DEPARTMENT.value_set(terms.department.value),
                search_attributes.SEVERITY.value_set(triage.severity.value),
                search_attributes.assigned_to(agent_id),
                search_attributes.SLA_DUE_AT.value_set(self._first_response_due),
                search_attributes.SLA_BREACHED.value_set(False),
            ]
        )
        # A WeChat message was answered at once in the chat with the number and the promised
        # response time (api/routes/wechat_official.py): the same chat is not told again.
        told_on = frozenset({Channel.WECHAT_OA}) if request.channel is IntakeChannel.WECHAT else frozenset()
        self._messenger.to_student(NoticeEvent.COMPLAINT_RECEIVED, self._context(), told_on=told_on)
        self._publish(OutboundEventType.COMPLAINT_RECEIVED)
        self._publish(OutboundEventType.COMPLAINT_ASSIGNED)
        self._start_clocks()

    # --- a long history is handed on (continue-as-new) -------------------------------------------

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._request.history_event_limit
        )

    def _may_hand_on(self) -> bool:
        """Nothing would be lost: no update running, no step being written, no notice or event
        still going out, no offer or refund in flight. (The clocks are rebuilt from the state.)"""
        return (
            workflow.all_handlers_finished()
            and not self._write.locked()
            and self._messenger.idle
            and self._nothing_outstanding
        )

    def _carry(self) -> ComplaintCarryOver:
        assert self._terms and self._category and self._first_response_due and self._resolution_due
        return ComplaintCarryOver(
            stage=self._stage,
            steps=self._steps,
            timeline=self._timeline[-TIMELINE_CARRIED:],
            terms=self._terms,
            category=self._category,
            severity=self._severity,
            assignment=self._assignment,
            first_response_due=self._first_response_due,
            resolution_due=self._resolution_due,
            first_responded=self._first_responded,
            resolution_clock_start=self._resolution_clock_start,
            warned=sorted(self._warned),
            breached=sorted(self._breached),
            sla_breached=self._sla_breached,
            reopened=self._reopened,
            paused_at=self._paused_at,
            notices_sent=self._messenger.sent_counts(),
            compensation_offers=self._compensation.offers,
            video_rooms=self._video_rooms,
            runs=self._runs + 1,
        )

    def _take_over(self, carried: ComplaintCarryOver) -> None:
        self._stage = carried.stage
        self._steps = carried.steps
        self._timeline = list(carried.timeline)
        self._terms = carried.terms
        self._category = carried.category
        self._severity = carried.severity
        self._assignment = carried.assignment
        self._first_response_due = carried.first_response_due
        self._resolution_due = carried.resolution_due
        self._first_responded = carried.first_responded
        self._resolution_clock_start = carried.resolution_clock_start
        self._warned = set(carried.warned)
        self._breached = set(carried.breached)
        self._sla_breached = carried.sla_breached
        self._reopened = carried.reopened
        self._paused_at = carried.paused_at
        self._compensation.offers = carried.compensation_offers
        self._video_rooms = carried.video_rooms
        self._runs = carried.runs

    async def _followed_up_and_satisfied(self, reopened_before: int) -> bool:
        """After the delay, ask the student; True when they are satisfied or do not answer.
        False when they are not, or when an agent reopened it meanwhile."""
        request = self._request
        reopened = lambda: self._reopened != reopened_before  # noqa: E731
        if await self._within(
            reopened, timedelta(minutes=request.follow_up_after_minutes), "until the follow-up"
        ):
            return False
        await self._record("complaint.follow_up", ComplaintStage.FOLLOW_UP, actor="system")
        self._messenger.to_student(NoticeEvent.COMPLAINT_FOLLOW_UP, self._context())
        answered = lambda: self._survey is not None or reopened()  # noqa: E731
        await self._within(answered, timedelta(minutes=request.survey_open_minutes), "waiting for the survey")
        if reopened():
            return False
        survey = self._survey
        if survey is None or survey.satisfied:
            await self._record(
                "survey.answered" if survey else "survey.unanswered",
                ComplaintStage.FOLLOW_UP,
                actor=request.student.id if survey else "system",
                note=survey.comment if survey else "",
                satisfied=survey.satisfied if survey else None,
            )
            return True
        await self._record(
            "survey.answered",
            ComplaintStage.FOLLOW_UP,
            actor=request.student.id,
            note=survey.comment,
            satisfied=False,
        )
        return False

    # --- SLA clocks ----------------------------------------------------------------------------

    def _start_clocks(self) -> None:
        """Both clocks, unless answered or already breached (a continued run starts them again)."""
        if not self._first_responded and FIRST_RESPONSE not in self._breached:
            self._clocks.append(
                asyncio.create_task(
                    self._watch(
                        FIRST_RESPONSE,
                        self._request.received_at,
                        lambda: self._first_response_due,
                        lambda: self._first_responded,
                    )
                )
            )
        if RESOLUTION not in self._breached:
            self._watch_resolution()

    def _watch_resolution(self) -> None:
        generation = self._reopened
        self._clocks.append(
            asyncio.create_task(
                self._watch(
                    RESOLUTION,
                    self._resolution_clock_start,
                    lambda: self._resolution_due,
                    lambda: (
                        self._stage in AFTER_RESOLUTION | {ComplaintStage.ARCHIVED}
                        or self._reopened != generation
                    ),
                )
            )
        )

    async def _watch(
        self, kind: str, start: datetime, due_now: Callable[[], datetime | None], done: Callable[[], bool]
    ) -> None:
        """Warn the assignee at 80% of the deadline; on breach, escalate. Durable timers both. While
        the student is asked for information the clock stands still, and the deadline moves on by
        the time it stood (working time, if the SLA counts only that)."""
        terms = self._terms
        assert terms is not None
        label = DEADLINE_LABELS["zh-CN"][kind]
        warned = kind in self._warned
        while not done():
            if self._paused_at is not None:
                await workflow.wait_condition(lambda: self._paused_at is None or done())
                continue
            due = due_now()
            assert due is not None
            moment = due if warned else terms.warning_time(start, due)
            changed = lambda: done() or self._paused_at is not None or due_now() != due  # noqa: B023, E731
            if await self._within(
                changed, moment - workflow.now(), f"{kind} {'deadline' if warned else 'warning'}"
            ):
                continue  # answered, paused or moved: look again
            if warned:
                self._breached.add(kind)
                await self._breach(kind, label, due)
                return
            warned = True
            self._warned.add(kind)
            await self._record(
                complaint_sla_event(kind, WARNING), None, actor="system", note=f"due {due.isoformat()}"
            )
            assignment = self._assignment
            if assignment and assignment.agent:
                self._messenger.to_staff(
                    NoticeEvent.SLA_WARNING,
                    assignment.agent,
                    {**self._context(), "deadline_label": label, "due_at": due.isoformat()},
                )

    async def _breach(self, kind: str, label: str, due: datetime) -> None:
        assignment = self._assignment
        self._sla_breached = True
        self._severity = self._severity.raised()
        await self._record(
            complaint_sla_event(kind, BREACHED),
            None,
            actor="system",
            note=f"due {due.isoformat()}; escalated to a lead",
            severity=self._severity,
            sla_breached=True,
        )
        workflow.upsert_search_attributes(
            [
                search_attributes.SLA_BREACHED.value_set(True),
                search_attributes.SEVERITY.value_set(self._severity.value),
            ]
        )
        breach = {
            **self._context(),
            "deadline_label": label,
            "due_at": due.isoformat(),
            "assignee_name": assignment.agent.name if assignment and assignment.agent else "—",
        }
        lead = assignment.lead if assignment else None
        if lead:
            self._messenger.to_staff(NoticeEvent.SLA_BREACHED, lead, breach)
        self._messenger.to_team(
            NoticeEvent.SLA_BREACHED, {**breach, "staff_name": lead.name if lead else "—"}
        )
        self._publish(OutboundEventType.COMPLAINT_SLA_BREACHED, deadline=kind)

    @staticmethod
    async def _within(condition: Callable[[], bool], limit: timedelta, what: str) -> bool:
        """True if condition held within limit; False once the timer fired."""
        try:
            await workflow.wait_condition(condition, timeout=max(limit, timedelta(0)), timeout_summary=what)
        except TimeoutError:
            return False
        return True

    # --- agents and the student act here ------------------------------------------------------

    @workflow.update
    async def respond(self, reply: AgentReply) -> ComplaintReceipt:
        """A reply the student sees: the first one is the first response."""
        await self._reply("agent.replied", ComplaintStage.IN_PROGRESS, reply)
        return self._receipt()

    @respond.validator
    def _only_while_open(self, _reply: AgentReply) -> None:
        self._require(OPEN_STAGES, "open")

    @workflow.update
    async def ask_customer(self, question: AgentReply) -> ComplaintReceipt:
        """Ask the student for information: a reply they see, and the clock stops until they answer."""
        await self._reply("agent.asked_customer", ComplaintStage.AWAITING_CUSTOMER, question)
        self._paused_at = workflow.now()
        self._show()
        return self._receipt()

    @ask_customer.validator
    def _only_while_working_on_it(self, _question: AgentReply) -> None:
        self._require(OPEN_STAGES - {ComplaintStage.AWAITING_CUSTOMER}, "being worked on")

    @workflow.update
    async def customer_message(self, message: CustomerMessage) -> ComplaintReceipt:
        """The student adds to their complaint; when they were asked, the clock runs again."""
        # A message sent right after the complaint may arrive before the workflow has recorded it
        # (updates are applied before the run starts): it comes after "received" all the same.
        # (Only then does it wait: an update that needs no wait yields nowhere, as it never did.)
        if not self._timeline:
            await workflow.wait_condition(lambda: bool(self._timeline))
        stage = ComplaintStage.IN_PROGRESS if self._paused_at is not None else None
        await self._record(
            "customer.replied", stage, actor=self._request.student.id, note=message.text, **self._resumed()
        )
        return self._receipt()

    @customer_message.validator
    def _only_while_it_is_open(self, _message: CustomerMessage) -> None:
        self._require(TAKES_CUSTOMER_MESSAGES, "open")

    def _resumed(self) -> dict[str, Any]:
        """Restart a paused clock: the resolution deadline moves on by the time it stood still."""
        if self._paused_at is None:
            return {}
        terms = self._terms
        due = self._resolution_due
        assert terms is not None and due is not None
        self._resolution_due = terms.after(workflow.now(), terms.left(self._paused_at, due))
        self._paused_at = None
        workflow.upsert_search_attributes([search_attributes.SLA_DUE_AT.value_set(self._resolution_due)])
        return {"resolution_due_at": self._resolution_due}

    async def _reply(self, event: str, stage: ComplaintStage, reply: AgentReply) -> None:
        first = not self._first_responded
        self._first_responded = True
        await self._record(
            event,
            stage,
            actor=reply.agent_id,
            note=reply.text,
            first_responded_at=workflow.now() if first else None,
            assigned_to=reply.agent_id if self._assignment and not self._assignment.agent else None,
            **self._resumed(),
        )
        if first:
            workflow.upsert_search_attributes([search_attributes.SLA_DUE_AT.value_set(self._resolution_due)])
            self._publish(OutboundEventType.COMPLAINT_FIRST_RESPONSE)
        self._messenger.to_student(
            NoticeEvent.COMPLAINT_FIRST_RESPONSE,
            {**self._context(), "agent_name": reply.agent_name, "reply_text": reply.text},
        )

    @workflow.update
    async def transfer(self, transfer: Transfer) -> ComplaintReceipt:
        """Another department takes it: its least-loaded member becomes the assignee. The clocks
        keep running — the student has waited the same time whoever answers."""
        agent_id = await self._assign(transfer.department)
        await self._record(
            "complaint.transferred",
            None,
            actor=transfer.by,
            note=transfer.reason,
            department=transfer.department,
            assigned_to=agent_id or "",
            detail={"to": transfer.department.value},
        )
        workflow.upsert_search_attributes(
            [
                search_attributes.DEPARTMENT.value_set(transfer.department.value),
                search_attributes.assigned_to(agent_id),
            ]
        )
        self._publish(OutboundEventType.COMPLAINT_ASSIGNED, transferred=True)
        return self._receipt()

    @transfer.validator
    def _only_open_to_another_department(self, transfer: Transfer) -> None:
        self._require(OPEN_STAGES, "open")
        if self._assignment and self._assignment.department is transfer.department:
            self._refuse_with(
                f"complaint {self._request.complaint_id} is with {transfer.department.value} already"
            )

    @workflow.update
    async def escalate(self, escalation: Escalation) -> ComplaintReceipt:
        """A lead takes over: they become the assignee, the severity rises, staff chat hears of it."""
        assignment = self._assignment
        lead = assignment.lead if assignment else None
        self._severity = self._severity.raised()
        await self._record(
            "complaint.escalated",
            None,
            actor=escalation.by,
            note=escalation.reason,
            severity=self._severity,
            assigned_to=lead.user_id if lead else None,
        )
        if assignment and lead:
            self._assignment = assignment.model_copy(update={"agent": lead})
        self._show()
        workflow.upsert_search_attributes(
            [
                search_attributes.SEVERITY.value_set(self._severity.value),
                search_attributes.assigned_to(lead.user_id if lead else None),
            ]
        )
        escalated = {
            **self._context(),
            "escalated_by": escalation.by_name,
            "escalation_reason": escalation.reason,
        }
        if lead:
            self._messenger.to_staff(NoticeEvent.COMPLAINT_ESCALATED, lead, escalated)
        self._messenger.to_team(
            NoticeEvent.COMPLAINT_ESCALATED, {**escalated, "staff_name": lead.name if lead else "—"}
        )
        return self._receipt()

    @escalate.validator
    def _only_open_ones_escalate(self, _escalation: Escalation) -> None:
        self._require(OPEN_STAGES, "open")

    @workflow.update
    async def add_note(self, note: AgentNote) -> ComplaintReceipt:
        """An internal note: the student does not see it."""
        await self._record("agent.note", None, actor=note.agent_id, note=note.text)
        return self._receipt()

    @add_note.validator
    def _not_archived(self, _note: AgentNote) -> None:
        if self._stage is ComplaintStage.ARCHIVED:
            self._refuse("archived")

    @workflow.update
    async def invite_to_video(self, invitation: VideoInvitation) -> VideoInvited:
        """Open a video support room and invite the student (inbox, email, SMS as for any notice).
        It is not an answer in itself: the first-response clock runs until someone replies."""
        self._video_rooms += 1
        invitation_id = f"{self._workflow_id}:video:{self._video_rooms}"
        try:
            room = await workflow.execute_activity_method(
                VideoRoomActivities.open_video_room,
                invitation_id,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary="Open a video support room",
            )
        except ActivityError as exc:
            raise ApplicationError(
                f"no video room could be opened: {exc.cause or exc}", type="VideoRoomUnavailable"
            ) from exc
        starts_at = invitation.starts_at.isoformat() if invitation.starts_at else ""
        await self._record(
            "video.invited",
            None,
            actor=invitation.by,
            note=invitation.note,
            detail={"room_url": room.url, "provider": room.provider, "starts_at": starts_at or None},
        )
        self._messenger.to_student(
            NoticeEvent.VIDEO_INVITATION,
            {
                **self._context(),
                "agent_name": invitation.by_name,
                "room_url": room.url,
                "starts_at": starts_at,
                "invitation_note": invitation.note,
            },
        )
        return VideoInvited(**self._receipt().model_dump(), room_url=room.url)

    @invite_to_video.validator
    def _video_only_while_open(self, _invitation: VideoInvitation) -> None:
        self._require(OPEN_STAGES, "open")

    @workflow.update
    async def request_refund(self, ask: RefundOnBehalf) -> RefundFollowed:
        """The complaint is a refund request: the refund runs as a child workflow (it carries on
        whatever becomes of the complaint), and the complaint follows it — resolved by itself once
        the money is back."""
        self._refund_id = "…"  # taken: a second ask waits for this one's outcome
        try:
            request = await workflow.execute_activity_method(
                ComplaintActivities.take_in_refund,
                RefundIntake(
                    student_id=self._request.student.id,
                    order_id=ask.order_id,
                    reason=ask.reason,
                    requested_fen=ask.amount_fen,
                    sms_quiet_hours=self._request.sms_quiet_hours,
                ),
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary=f"Take in a refund of {ask.order_id}",
            )
        except ActivityError as exc:
            self._refund_id = None
            refusal = exc.cause
            if isinstance(refusal, ApplicationError) and refusal.type == "RefundRefused":
                raise ApplicationError(refusal.message, type="RefundRefused") from exc
            raise
        self._refund_id = request.refund_id
        refund = await workflow.start_child_workflow(
            RefundWorkflow.run,
            request,
            id=refund_workflow_id(request.refund_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            **temporal_views.refund_start_options(request),
        )
        await self._record(
            "refund.requested",
            None,
            actor=ask.by,
            note=ask.reason,
            detail={
                "refund_id": request.refund_id,
                "order_id": request.order_id,
                "refund_amount_fen": request.refund_amount_fen,
            },
        )
        self._messenger.spawn(self._follow(refund, ask))
        return RefundFollowed(**self._receipt().model_dump(), refund_id=request.refund_id)

    @request_refund.validator
    def _one_refund_at_a_time(self, _ask: RefundOnBehalf) -> None:
        self._require(OPEN_STAGES, "open")
        if self._refund_id is not None:
            self._refuse_with(f"refund {self._refund_id} of this complaint is still under way")

    async def _follow(self, refund: ChildWorkflowHandle[Any, RefundState], ask: RefundOnBehalf) -> None:
        """Record how the refund ended; the money back settles the complaint."""
        refund_id = refund.id.removeprefix("refund-")
        try:
            ended: RefundState = await refund
            outcome, note = ended.status.value, ""
        except ChildWorkflowError as exc:  # terminated or failed: staff must look at it
            outcome, note = "failed", str(exc.cause or exc)
        self._refund_id = None
        await self._record(
            f"refund.{outcome}", None, actor="system", note=note, detail={"refund_id": refund_id}
        )
        if outcome == RefundStatus.REFUNDED.value and self._stage in OPEN_STAGES:
            await self._resolve(
                ComplaintResolution(
                    code=ResolutionCode.REFUNDED,
                    summary=f"退款 {refund_id} 已原路退回 / refund {refund_id} has been paid back",
                    agent_id=ask.by,
                    agent_name=ask.by_name,
                )
            )

    @property
    def _nothing_outstanding(self) -> bool:
        """No offer waits for a lead, no grant is being given, no refund is under way: it may close."""
        return self._compensation.settled and self._refund_id is None

    @workflow.update
    async def resolve(self, resolution: ComplaintResolution) -> ComplaintReceipt:
        await self._resolve(resolution)
        return self._receipt()

    async def _resolve(self, resolution: ComplaintResolution) -> None:
        self._resolution = resolution
        self._first_responded = True  # the resolution notice is a customer-visible reply too
        await self._record(
            "complaint.resolved",
            ComplaintStage.RESOLVED,
            actor=resolution.agent_id,
            note=resolution.summary,
            resolved_at=workflow.now(),
            resolution_code=resolution.code,
            resolution_summary=resolution.summary,
            **self._resumed(),
        )
        self._messenger.to_student(
            NoticeEvent.COMPLAINT_RESOLVED,
            {
                **self._context(),
                "agent_name": resolution.agent_name,
                "resolved_at": workflow.now().isoformat(),
            },
        )
        self._publish(OutboundEventType.COMPLAINT_RESOLVED, resolution_code=resolution.code.value)

    @resolve.validator
    def _only_open_ones(self, _resolution: ComplaintResolution) -> None:
        self._require(OPEN_STAGES, "open")

    @workflow.update
    async def reopen(self, reopening: Reopening) -> ComplaintReceipt:
        await self._reopen(reopening)
        return self._receipt()

    @reopen.validator
    def _only_after_resolution(self, _reopening: Reopening) -> None:
        self._require(AFTER_RESOLUTION, "resolved")
        if self._closing:
            self._refuse_with(
                f"complaint {self._request.complaint_id} was settled with the student; it is closing"
            )

    @workflow.update
    async def answer_survey(self, answer: SurveyAnswer) -> ComplaintReceipt:
        self._survey = answer
        # Answer once the outcome is recorded: archived (satisfied) or reopened (not) — or, when a
        # compensation is still open, as soon as the archive only waits for that.
        await workflow.wait_condition(
            lambda: (
                self._stage is not ComplaintStage.FOLLOW_UP
                or (self._closing and not self._nothing_outstanding)
            )
        )
        return self._receipt()

    @answer_survey.validator
    def _only_when_asked(self, _answer: SurveyAnswer) -> None:
        if self._stage is not ComplaintStage.FOLLOW_UP or self._survey is not None:
            self._refuse("waiting for a survey answer")

    @workflow.update
    async def compensate(self, offer: CompensationOffer) -> CompensationReceipt:
        """A coupon or a progress reset: given at once within the offerer's quota, otherwise it
        waits for a lead (told in their inbox and on staff chat)."""
        assignment = self._assignment
        ticket = await self._compensation.offer(offer, assignment.lead if assignment else None)
        return CompensationReceipt(
            **self._receipt().model_dump(),
            compensation_id=ticket.compensation_id,
            status=ticket.status,
            quota=ticket.quota,
        )

    @compensate.validator
    def _compensate_only_while_open(self, _offer: CompensationOffer) -> None:
        self._require(OPEN_STAGES, "open")

    @workflow.update
    async def decide_compensation(self, decision: CompensationDecision) -> CompensationReceipt:
        refusal = self._compensation.refusal_of(decision)  # checked again: a twin may have won
        if refusal:
            self._refuse_with(refusal)
        status = await self._compensation.decide(decision)
        return CompensationReceipt(
            **self._receipt().model_dump(), compensation_id=decision.compensation_id, status=status
        )

    @decide_compensation.validator
    def _only_an_offer_waiting_for_someone_else(self, decision: CompensationDecision) -> None:
        refusal = self._compensation.refusal_of(decision)
        if refusal:
            self._refuse_with(refusal)

    @workflow.query
    def state(self) -> ComplaintState:
        assignment = self._assignment
        return ComplaintState(
            complaint_id=self._request.complaint_id,
            stage=self._stage,
            category=self._category,
            severity=self._severity,
            department=self._department,
            assigned_to=assignment.agent.user_id if assignment and assignment.agent else None,
            first_response_due_at=self._first_response_due,
            resolution_due_at=self._resolution_due,
            sla_breached=self._sla_breached,
            timeline=list(self._timeline),
        )

    @workflow.query
    def status(self) -> ComplaintProgress:
        """Where the complaint stands now and the next deadline that matters."""
        state = self.state()
        return ComplaintProgress(
            **state.model_dump(exclude={"timeline", "severity"}),
            severity=self._severity,
            details=workflow.get_current_details(),
            paused_since=self._paused_at,
            steps=self._steps,
            runs=self._runs,
        )

    @workflow.query
    def timeline(self) -> list[ComplaintTimelineEntry]:
        """The steps so far, oldest first (a continued run keeps the latest; the audit trail all)."""
        return list(self._timeline)

    # --- steps ---------------------------------------------------------------------------------

    async def _reopen(self, reopening: Reopening) -> None:
        terms = self._terms
        assert terms is not None
        self._reopened += 1
        self._resolution = None
        now = workflow.now()
        self._resolution_due = terms.deadline(now, terms.resolution_minutes)
        self._resolution_clock_start = now
        self._warned.discard(RESOLUTION)  # a new resolution clock
        self._breached.discard(RESOLUTION)
        await self._record(
            "complaint.reopened",
            ComplaintStage.IN_PROGRESS,
            actor=reopening.by,
            note=reopening.reason,
            resolution_due_at=self._resolution_due,
        )
        workflow.upsert_search_attributes([search_attributes.SLA_DUE_AT.value_set(self._resolution_due)])
        self._publish(OutboundEventType.COMPLAINT_REOPENED)
        self._watch_resolution()

    async def _assign(self, department: Department) -> str | None:
        """Give the complaint to the department's least-loaded member; their id (None: the queue)."""
        assignment = self._assignment = await workflow.execute_activity_method(
            ComplaintActivities.assign_complaint,
            department,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"Pick someone in {department.value}",
        )
        return assignment.agent.user_id if assignment.agent else None

    @property
    def _department(self) -> Department | None:
        """Where the complaint is now: its category's department until someone transfers it."""
        if self._assignment is not None:
            return self._assignment.department
        return self._terms.department if self._terms else None

    def _require(self, stages: frozenset[ComplaintStage], what: str) -> None:
        if self._stage not in stages:
            self._refuse(what)

    def _refuse(self, what: str) -> None:
        self._refuse_with(f"complaint {self._request.complaint_id} is {self._stage.value}, not {what}")

    @staticmethod
    def _refuse_with(message: str) -> None:
        raise ApplicationError(message, type="InvalidComplaintState")

    def _receipt(self) -> ComplaintReceipt:
        return ComplaintReceipt(complaint_id=self._request.complaint_id, stage=self._stage)

    async def _record(
        self,
        event: str,
        stage: ComplaintStage | None,
        *,
        actor: str,
        note: str = "",
        intake: bool = False,
        **fields: Any,
    ) -> None:
        """Write the step, then move to `stage` (so whoever sees the stage finds the database
        agreeing). None: the stage stays whatever it is once this step's turn to be written comes.
        `intake`: the complaint's first step, which waits behind complaints already under way."""
        async with self._write:
            stage = stage or self._stage
            self._steps += 1
            moment = workflow.now()
            await workflow.execute_activity_method(
                ComplaintActivities.record_complaint_event,
                ComplaintEvent(
                    complaint_id=self._request.complaint_id,
                    event_key=f"{self._workflow_id}:{self._steps}:{event}",
                    event=event,
                    stage=stage,
                    at=moment,
                    actor=actor,
                    note=note,
                    **fields,
                ),
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary=f"Record {event}",
                priority=record_priority(event, intake=intake),
            )
            self._stage = stage
            self._timeline.append(
                ComplaintTimelineEntry(at=moment, event=event, stage=stage, actor=actor, note=note)
            )
            stage_now = [search_attributes.COMPLAINT_STAGE.value_set(stage.value)]
            if stage in AFTER_RESOLUTION | {ComplaintStage.ARCHIVED}:  # no clock runs until a reopening
                stage_now.append(search_attributes.SLA_DUE_AT.value_unset())
            workflow.upsert_search_attributes(stage_now)
            self._show()

    def _show(self) -> None:
        """Say in the Temporal UI's current details where the complaint stands, after every change."""
        assignment = self._assignment
        workflow.set_current_details(
            temporal_views.complaint_now(
                stage=self._stage,
                channel=self._request.channel.value,
                category=self._category.value if self._category else None,
                severity=self._severity,
                department=self._department,
                assignee=assignment.agent.name if assignment and assignment.agent else None,
                first_responded=self._first_responded,
                first_response_due=self._first_response_due,
                resolution_due=self._resolution_due,
                sla_breached=self._sla_breached,
                overdue=self._breached,
                paused_since=self._paused_at,
            )
        )

    # --- what the student and subscribers are told -----------------------------------------------

    def _context(self) -> dict[str, Any]:
        request = self._request
        locale = request.student.locale if request.student.locale in CATEGORY_LABELS else "zh-CN"
        resolution = self._resolution
        context: dict[str, Any] = {
            "complaint_id": request.complaint_id,
            "student_name": request.student.name,
            "category_label": CATEGORY_LABELS[locale][self._category.value] if self._category else "",
            "severity": self._severity.value,
            "summary": request.text if len(request.text) <= 80 else request.text[:79] + "…",
            "received_at": request.received_at.isoformat(),
            "department_label": DEPARTMENT_LABELS[locale][self._department.value] if self._department else "",
            "first_response_due_at": self._first_response_due.isoformat() if self._first_response_due else "",
            "resolution_due_at": self._resolution_due.isoformat() if self._resolution_due else "",
            "status": self._stage.value,
        }
        if resolution is not None:
            context["resolution_summary"] = resolution.summary
        context["survey_url"] = request.survey_url
        return context

    def _publish(self, event_type: OutboundEventType, **extra: Any) -> None:
        request = self._request
        data = {
            "complaint_id": request.complaint_id,
            "student_id": request.student.id,
            "channel": request.channel.value,
            "order_id": request.order_id,
            "category": self._category.value if self._category else None,
            "severity": self._severity.value,
            "department": self._department.value if self._department else None,
            "stage": self._stage.value,
            "sla_breached": self._sla_breached,
            **extra,
        }
        self._messenger.publish(event_type, self._steps, data)
