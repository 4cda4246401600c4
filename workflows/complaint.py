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
from temporalio.exceptions import ApplicationError

from workflows.messenger import RECORD_RETRY, RECORD_TIMEOUT, CaseMessenger

with workflow.unsafe.imports_passed_through():
    from activities.complaints import ComplaintActivities
    from domain import search_attributes
    from domain.complaints import (
        AFTER_RESOLUTION,
        CATEGORY_LABELS,
        DEPARTMENT_LABELS,
        OPEN_STAGES,
        TAKES_CUSTOMER_MESSAGES,
        AgentNote,
        AgentReply,
        ComplaintAssignment,
        ComplaintCategory,
        ComplaintEvent,
        ComplaintReceipt,
        ComplaintRequest,
        ComplaintResolution,
        ComplaintStage,
        ComplaintState,
        ComplaintTimelineEntry,
        CustomerMessage,
        Department,
        Escalation,
        Reopening,
        Severity,
        SlaTerms,
        SurveyAnswer,
        Transfer,
        classify,
    )
    from domain.notifications import NoticeEvent
    from domain.webhooks import OutboundEventType

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
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
        self._messenger = CaseMessenger(
            workflow_id=self._workflow_id,
            case_type="complaint",
            case_id=request.complaint_id,
            student=request.student,
            student_channels=request.notice_channels,
            sms_quiet_hours=request.sms_quiet_hours,
        )

    @workflow.run
    async def run(self, request: ComplaintRequest) -> ComplaintState:
        await self._record(
            "complaint.received",
            ComplaintStage.RECEIVED,
            actor=request.logged_by,
            note=request.text,
            detail={"channel": request.channel.value},
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
                search_attributes.ASSIGNED_TO.value_set(agent_id or ""),
                search_attributes.SLA_DUE_AT.value_set(self._first_response_due),
                search_attributes.SLA_BREACHED.value_set(False),
            ]
        )
        self._messenger.to_student(NoticeEvent.COMPLAINT_RECEIVED, self._context())
        self._publish(OutboundEventType.COMPLAINT_RECEIVED)
        self._publish(OutboundEventType.COMPLAINT_ASSIGNED)
        self._messenger.spawn(
            self._watch(
                FIRST_RESPONSE, received, lambda: self._first_response_due, lambda: self._first_responded
            )
        )
        self._watch_resolution(received)

        while True:
            await workflow.wait_condition(lambda: self._stage is ComplaintStage.RESOLVED)
            reopened_before = self._reopened
            if await self._followed_up_and_satisfied(reopened_before):
                break
            if self._reopened == reopened_before:  # the student said it is not solved
                await self._reopen(
                    Reopening(reason=self._survey.comment if self._survey else "", by=request.student.id)
                )
            self._survey = None
        await self._record("complaint.archived", ComplaintStage.ARCHIVED, actor="system")
        self._publish(OutboundEventType.COMPLAINT_ARCHIVED)
        await self._messenger.finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

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

    def _watch_resolution(self, start: datetime) -> None:
        generation = self._reopened
        self._messenger.spawn(
            self._watch(
                RESOLUTION,
                start,
                lambda: self._resolution_due,
                lambda: (
                    self._stage in AFTER_RESOLUTION | {ComplaintStage.ARCHIVED}
                    or self._reopened != generation
                ),
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
        warned = False
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
                await self._breach(kind, label, due)
                return
            warned = True
            await self._record(
                f"sla.{kind}.warning", self._stage, actor="system", note=f"due {due.isoformat()}"
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
            f"sla.{kind}.breached",
            self._stage,
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
        # The stage is read once the lock is held: a step recorded meanwhile (triage, assignment,
        # a reply) must not be undone by this one.
        async with self._write:
            stage = ComplaintStage.IN_PROGRESS if self._paused_at is not None else self._stage
            await self._record_locked(
                "customer.replied",
                stage,
                actor=self._request.student.id,
                note=message.text,
                **self._resumed(),
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
            self._stage,
            actor=transfer.by,
            note=transfer.reason,
            department=transfer.department,
            assigned_to=agent_id or "",
            detail={"to": transfer.department.value},
        )
        workflow.upsert_search_attributes(
            [
                search_attributes.DEPARTMENT.value_set(transfer.department.value),
                search_attributes.ASSIGNED_TO.value_set(agent_id or ""),
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
            self._stage,
            actor=escalation.by,
            note=escalation.reason,
            severity=self._severity,
            assigned_to=lead.user_id if lead else None,
        )
        if assignment and lead:
            self._assignment = assignment.model_copy(update={"agent": lead})
        workflow.upsert_search_attributes(
            [
                search_attributes.SEVERITY.value_set(self._severity.value),
                search_attributes.ASSIGNED_TO.value_set(lead.user_id if lead else ""),
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
        await self._record("agent.note", self._stage, actor=note.agent_id, note=note.text)
        return self._receipt()

    @add_note.validator
    def _not_archived(self, _note: AgentNote) -> None:
        if self._stage is ComplaintStage.ARCHIVED:
            self._refuse("archived")

    @workflow.update
    async def resolve(self, resolution: ComplaintResolution) -> ComplaintReceipt:
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
        return self._receipt()

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

    @workflow.update
    async def answer_survey(self, answer: SurveyAnswer) -> ComplaintReceipt:
        self._survey = answer
        # Answer once the outcome is recorded: archived (satisfied) or reopened (not).
        await workflow.wait_condition(lambda: self._stage is not ComplaintStage.FOLLOW_UP)
        return self._receipt()

    @answer_survey.validator
    def _only_when_asked(self, _answer: SurveyAnswer) -> None:
        if self._stage is not ComplaintStage.FOLLOW_UP or self._survey is not None:
            self._refuse("waiting for a survey answer")

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

    # --- steps ---------------------------------------------------------------------------------

    async def _reopen(self, reopening: Reopening) -> None:
        terms = self._terms
        assert terms is not None
        self._reopened += 1
        self._resolution = None
        now = workflow.now()
        self._resolution_due = terms.deadline(now, terms.resolution_minutes)
        await self._record(
            "complaint.reopened",
            ComplaintStage.IN_PROGRESS,
            actor=reopening.by,
            note=reopening.reason,
            resolution_due_at=self._resolution_due,
        )
        workflow.upsert_search_attributes([search_attributes.SLA_DUE_AT.value_set(self._resolution_due)])
        self._publish(OutboundEventType.COMPLAINT_REOPENED)
        self._watch_resolution(now)

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
        self, event: str, stage: ComplaintStage, *, actor: str, note: str = "", **fields: Any
    ) -> None:
        """Write the step, then move to `stage` (so whoever sees the stage finds the database agreeing)."""
        async with self._write:
            await self._record_locked(event, stage, actor=actor, note=note, **fields)

    async def _record_locked(
        self, event: str, stage: ComplaintStage, *, actor: str, note: str = "", **fields: Any
    ) -> None:
        """_record for a caller that holds the write lock already."""
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
        )
        self._stage = stage
        self._timeline.append(
            ComplaintTimelineEntry(at=moment, event=event, stage=stage, actor=actor, note=note)
        )
        workflow.upsert_search_attributes([search_attributes.COMPLAINT_STAGE.value_set(stage.value)])

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
