"""RefundWorkflow (`refund-<refund_id>`): one course refund from request to money returned.

received → awaiting_review → (rejected | approved → refunding → refunded | refund_failed).
A reviewer decides through the `decide` update; the gateway's verified callback arrives as the
`gateway_result` signal, and when it is late the workflow asks the gateway's query API itself. When
the gateway cannot pay, a finance task is opened and finance settles it through `resolve_payout`.
Notices, staff-chat messages and outbound webhook events go out beside the main path, so a slow mail
server or subscriber never holds up a refund.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.messenger import (
    NOTICE_DEADLINE,
    NOTICE_RETRY,
    RECORD_RETRY,
    RECORD_TIMEOUT,
    CaseMessenger,
    record_priority,
)

with workflow.unsafe.imports_passed_through():
    from activities.commerce import CommerceActivities
    from activities.finance import FinanceActivities
    from activities.payments import PaymentActivities
    from activities.records import RecordActivities
    from activities.review import ReviewActivities
    from domain import search_attributes, temporal_views
    from domain.calendar import expected_arrival
    from domain.finance import (
        FinanceTaskClosing,
        FinanceTaskKind,
        FinanceTaskOpening,
        PayoutOutcome,
        PayoutResolution,
        finance_task_id,
        refusal_of_retry,
    )
    from domain.notifications import (
        NoticeEvent,
        Recipient,
    )
    from domain.policy import Eligibility
    from domain.refunds import (
        DECIDABLE_STATUSES,
        GATEWAY_SETTLES_WITHIN,
        POLICY_DECIDER,
        Assignment,
        AssignmentRequest,
        ConfirmationOutcome,
        Decision,
        DecisionReceipt,
        EnrollmentRevocation,
        GatewayOutcome,
        GatewayQuery,
        GatewayRefundOrder,
        GatewayRefundResult,
        ManagerConfirmation,
        RefundEvent,
        RefundProgress,
        RefundRequest,
        RefundState,
        RefundStatus,
        ReviewDecision,
        TimelineEntry,
        gateway_poll_minutes,
    )
    from domain.sla_events import REVIEW_ESCALATED, REVIEW_REMINDER
    from domain.webhooks import OutboundEventType

GATEWAY_TIMEOUT = timedelta(seconds=30)
GATEWAY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2, maximum_interval=timedelta(minutes=2)
)
# How often staff chat is reminded of an open finance task.
FINANCE_REMINDER_EVERY = timedelta(days=1)
# Patches (workflow.patched): changes to what a running refund does, made safe for the refunds
# already in flight. Remove one with workflow.deprecate_patch once no workflow from before it is open.
STUDENT_TOLD_OF_LATE_REVIEW = "student-told-of-late-review"  # the student hears a lead has it


@workflow.defn
class RefundWorkflow:
    @workflow.init
    def __init__(self, request: RefundRequest) -> None:
        self._request = request
        self._workflow_id = workflow.info().workflow_id
        self._status = RefundStatus.REQUESTED
        self._timeline: list[TimelineEntry] = []
        self._steps = 0
        self._decision: ReviewDecision | None = None
        self._decision_reason = ""
        self._confirmation: ManagerConfirmation | None = None
        self._confirmation_open = False
        self._confirmation_recorded = False
        self._refunded_at: datetime | None = None
        self._expected_arrival: date | None = None
        self._gateway_results: list[GatewayRefundResult] = []
        self._results_read = 0
        # The open finance task (id, kind), finance's answer, and whether that answer is recorded.
        self._finance_task: tuple[str, FinanceTaskKind] | None = None
        self._payout: PayoutResolution | None = None
        self._payout_recorded = False
        self._payout_reference: str | None = None
        # What support sees: who holds the refund, until when, and the sentence saying so.
        self._review_group: str | None = None
        self._assigned_to: str | None = None
        self._due_at: datetime | None = None
        self._sla_breached = False
        self._details = ""
        # Notices, events and other work beside the main path, awaited before the workflow ends.
        self._messenger = CaseMessenger(
            workflow_id=self._workflow_id,
            case_type="refund",
            case_id=request.refund_id,
            student=request.student,
            student_channels=request.notice_channels,
            sms_quiet_hours=request.sms_quiet_hours,
        )

    @workflow.run
    async def run(self, request: RefundRequest) -> RefundState:
        self._show(temporal_views.refund_routing())
        await self._record(
            "refund.requested",
            RefundStatus.REQUESTED,
            actor=request.student.id,
            note=request.reason,
            detail={"eligibility": request.eligibility.value, "policy_version": request.policy.version},
            intake=True,
        )
        self._publish(OutboundEventType.REFUND_REQUESTED)
        if request.eligibility is Eligibility.INELIGIBLE:
            await self._reject_by_policy()
        else:
            self._notify(NoticeEvent.REFUND_RECEIVED)
            await self._review_then_refund()
        await self._messenger.finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _reject_by_policy(self) -> None:
        """Outside the policy's window and the policy says reject: answer at once, with the reason."""
        self._decision_reason = self._request.ineligible_reason_text or ""
        await self._record(
            "review.rejected_by_policy",
            RefundStatus.REJECTED,
            actor=POLICY_DECIDER,
            note=self._decision_reason,
            decision_reason=self._decision_reason,
            decided_by=POLICY_DECIDER,
        )
        self._show(temporal_views.refund_rejected(by="the policy", reason=self._decision_reason))
        self._notify(NoticeEvent.REFUND_REJECTED)
        self._publish(OutboundEventType.REFUND_REJECTED)

    async def _review_then_refund(self) -> None:
        request = self._request
        assignment = await workflow.execute_activity_method(
            ReviewActivities.assign_reviewer,
            AssignmentRequest(
                refund_id=request.refund_id,
                student_id=request.student.id,
                course_type=request.course.type,
                refund_amount_fen=request.refund_amount_fen,
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary="Route to a reviewer group and pick the reviewer",
        )
        policy = request.policy
        due = workflow.now() + timedelta(hours=policy.review_escalation_hours)
        reviewer = assignment.reviewer
        await self._record(
            "review.awaiting",
            RefundStatus.AWAITING_REVIEW,
            actor="system",
            note=request.ineligible_reason_text or "",  # why an exception needs a closer look
            review_group=assignment.group_id,
            assigned_reviewer_id=reviewer.user_id if reviewer else None,
            review_due_at=due,
            detail={"group": assignment.group_id, "reviewer": reviewer.user_id if reviewer else None},
        )
        self._review_group = assignment.group_id
        self._hold(reviewer.user_id if reviewer else "", due)
        workflow.upsert_search_attributes([search_attributes.SLA_BREACHED.value_set(False)])
        self._show(
            temporal_views.refund_awaiting_review(
                group=assignment.group_label, reviewer=reviewer.name if reviewer else None, due=due
            )
        )
        await self._review_sla(assignment, due)
        decision = self._decision
        assert decision is not None
        approved = decision.decision is Decision.APPROVE
        self._decision_reason = decision.reason
        await self._record(
            "review.approved" if approved else "review.rejected",
            RefundStatus.APPROVED if approved else RefundStatus.REJECTED,
            actor=decision.reviewer_id,
            note=decision.reason,
            decision_reason=decision.reason,
            decided_by=decision.reviewer_id,
        )
        self._hold("", None)
        if approved:
            self._expected_arrival = expected_arrival(self._request.gateway, workflow.now())
            self._notify(NoticeEvent.REFUND_APPROVED)
            self._publish(OutboundEventType.REFUND_APPROVED)
            if self._request.needs_manager_confirmation and not await self._confirmed_by_phone():
                self._publish(OutboundEventType.REFUND_WITHDRAWN)
                return
            await self._refund_at_gateway()
        else:
            self._show(temporal_views.refund_rejected(by=decision.reviewer_name, reason=decision.reason))
            self._notify(NoticeEvent.REFUND_REJECTED)
            self._publish(OutboundEventType.REFUND_REJECTED)

    async def _review_sla(self, assignment: Assignment, due: datetime) -> None:
        """Wait for the decision; remind the reviewer at the policy's reminder time and escalate to a
        lead when the review is overdue. Both are durable timers, so a restart loses neither."""
        policy = self._request.policy
        decided = lambda: self._decision is not None  # noqa: E731
        reminder = timedelta(hours=policy.review_reminder_hours)
        if not await self._within(decided, reminder, "the review reminder"):
            await self._record(
                REVIEW_REMINDER, RefundStatus.AWAITING_REVIEW, actor="system", note="review SLA"
            )
            if assignment.reviewer:
                self._notify_staff(NoticeEvent.REVIEW_REMINDER, assignment.reviewer, due)
            if not await self._within(decided, due - workflow.now(), "the review escalation"):
                lead = assignment.lead
                await self._record(
                    REVIEW_ESCALATED,
                    RefundStatus.AWAITING_REVIEW,
                    actor="system",
                    note=f"review overdue since {due.isoformat()}; escalated to a lead",
                    assigned_reviewer_id=lead.user_id if lead else None,
                )
                self._sla_breached = True
                self._hold(lead.user_id if lead else "", due)
                workflow.upsert_search_attributes([search_attributes.SLA_BREACHED.value_set(True)])
                self._show(
                    temporal_views.refund_review_overdue(
                        group=assignment.group_label, lead=lead.name if lead else None, due=due
                    )
                )
                if lead:
                    self._notify_staff(NoticeEvent.REVIEW_ESCALATED, lead, due)
                # Added while refunds were already waiting: those that escalated before took the
                # old path (no notice), and replaying them must take it again (docs/operations.md).
                if workflow.patched(STUDENT_TOLD_OF_LATE_REVIEW):
                    self._notify(NoticeEvent.REFUND_REVIEW_LATE)
                self._notify_team(
                    NoticeEvent.TEAM_REVIEW_OVERDUE,
                    review_due_at=due.isoformat(),
                    lead_name=lead.name if lead else "",
                )
        await workflow.wait_condition(decided)

    @staticmethod
    async def _wait_reminding(
        condition: Callable[[], bool],
        *,
        every: timedelta,
        what: str,
        remind: Callable[[int], Awaitable[None]],
    ) -> None:
        """Wait for condition, calling remind(1), remind(2)... each time `every` passes first."""
        reminders = 0
        while not condition():
            try:
                await workflow.wait_condition(condition, timeout=every, timeout_summary=what)
            except TimeoutError:
                reminders += 1
                await remind(reminders)

    @staticmethod
    async def _within(condition: Callable[[], bool], limit: timedelta, what: str) -> bool:
        """True if condition held within limit; False once the timer fired."""
        try:
            await workflow.wait_condition(condition, timeout=limit, timeout_summary=what)
        except TimeoutError:
            return False
        return True

    async def _confirmed_by_phone(self) -> bool:
        """Premium and high-value refunds: an account manager phones the student before any money
        moves; the team is reminded until the call is reported."""
        self._confirmation_open = True
        await self._record(
            "confirmation.awaiting",
            RefundStatus.AWAITING_CONFIRMATION,
            actor="system",
            note="an account manager will phone the student before the refund is paid",
        )
        self._notify(NoticeEvent.REFUND_MANAGER_CALL)
        self._show(temporal_views.refund_awaiting_call(reminders=0))

        async def remind(count: int) -> None:
            await self._record(
                "confirmation.reminder",
                RefundStatus.AWAITING_CONFIRMATION,
                actor="system",
                note=f"reminder {count}: nobody has reported the call to the student yet",
            )
            self._show(temporal_views.refund_awaiting_call(reminders=count))
            self._notify_team(NoticeEvent.TEAM_CALL_OVERDUE, reminder_count=count)

        await self._wait_reminding(
            lambda: self._confirmation is not None,
            every=timedelta(hours=self._request.policy.confirmation_reminder_hours),
            what="waiting for the account manager's call",
            remind=remind,
        )
        confirmation = self._confirmation
        confirmed = confirmation.outcome is ConfirmationOutcome.CONFIRMED
        await self._record(
            "confirmation.confirmed" if confirmed else "confirmation.withdrawn",
            RefundStatus.APPROVED if confirmed else RefundStatus.WITHDRAWN,
            actor=confirmation.manager_id,
            note=confirmation.note,
        )
        self._confirmation_recorded = True
        if not confirmed:
            self._show(temporal_views.refund_withdrawn(note=confirmation.note))
        return confirmed

    # --- humans and gateways talk to the workflow here -------------------------------------------

    @workflow.update
    async def decide(self, decision: ReviewDecision) -> DecisionReceipt:
        self._decision = decision
        # Answer once the decision is recorded, so the caller reads a settled status.
        await workflow.wait_condition(lambda: self._status not in DECIDABLE_STATUSES)
        return DecisionReceipt(refund_id=self._request.refund_id, status=self._status)

    @decide.validator
    def _only_before_a_decision(self, decision: ReviewDecision) -> None:
        taken = self._decision
        if taken and self._status in DECIDABLE_STATUSES:
            raise ApplicationError(
                f"refund {self._request.refund_id} was decided already ({taken.decision.value} by "
                f"{taken.reviewer_name}); the decision is being recorded",
                type="InvalidRefundState",
            )
        # `requested` counts too: the database may already say awaiting_review while this
        # workflow has yet to see its own write complete (updates are applied first).
        undecided = taken is None and self._request.eligibility is not Eligibility.INELIGIBLE
        if not (undecided and self._status in DECIDABLE_STATUSES):
            raise ApplicationError(
                f"refund {self._request.refund_id} is {self._status.value}, not awaiting review",
                type="InvalidRefundState",
            )

    @workflow.update
    async def confirm(self, confirmation: ManagerConfirmation) -> DecisionReceipt:
        self._confirmation = confirmation
        await workflow.wait_condition(lambda: self._confirmation_recorded)
        return DecisionReceipt(refund_id=self._request.refund_id, status=self._status)

    @confirm.validator
    def _only_while_a_call_is_awaited(self, confirmation: ManagerConfirmation) -> None:
        # Open from just before awaiting_confirmation is recorded, for the same reason as decide's.
        if not self._confirmation_open or self._confirmation is not None:
            raise ApplicationError(
                f"refund {self._request.refund_id} is {self._status.value}, not awaiting a manager's call",
                type="InvalidRefundState",
            )

    @workflow.update
    async def resolve_payout(self, resolution: PayoutResolution) -> DecisionReceipt:
        self._payout = resolution
        await workflow.wait_condition(lambda: self._payout_recorded)
        return DecisionReceipt(refund_id=self._request.refund_id, status=self._status)

    @resolve_payout.validator
    def _only_while_finance_holds_it(self, resolution: PayoutResolution) -> None:
        if self._finance_task is None or self._payout is not None:
            raise ApplicationError(
                f"refund {self._request.refund_id} is {self._status.value}, with no finance task open",
                type="InvalidRefundState",
            )
        _task_id, kind = self._finance_task
        refusal = refusal_of_retry(kind)
        if resolution.outcome is PayoutOutcome.RETRY_GATEWAY and refusal:
            raise ApplicationError(refusal, type="InvalidRefundState")

    @workflow.signal
    def gateway_result(self, result: GatewayRefundResult) -> None:
        """A verified gateway callback, delivered by the API's notify route. Duplicates and stale
        results are harmless: only the first conclusive, matching one is acted on."""
        self._gateway_results.append(result)

    @workflow.query
    def state(self) -> RefundState:
        return RefundState(
            refund_id=self._request.refund_id, status=self._status, timeline=list(self._timeline)
        )

    @workflow.query
    def status(self) -> RefundProgress:
        """Where the refund stands now and what it waits for."""
        return RefundProgress(
            refund_id=self._request.refund_id,
            status=self._status,
            details=self._details,
            review_group=self._review_group,
            assigned_to=self._assigned_to or None,
            due_at=self._due_at,
            sla_breached=self._sla_breached,
            finance_task_id=self._finance_task[0] if self._finance_task else None,
            steps=self._steps,
        )

    @workflow.query
    def timeline(self) -> list[TimelineEntry]:
        """Every step so far, oldest first."""
        return list(self._timeline)

    # --- steps -----------------------------------------------------------------------------------

    async def _refund_at_gateway(self) -> None:
        """Pay through the gateway. When it cannot, finance takes over: it pays the student another
        way, or (when the gateway never took the refund) has the workflow ask the gateway again."""
        attempt = 0
        while True:
            attempt += 1
            failure = await self._gateway_attempt()
            if failure is None:
                return
            resolution = await self._finance_resolution(attempt, *failure)
            if resolution.outcome is PayoutOutcome.PAID_OFFLINE:
                self._refunded_at = workflow.now()
                self._payout_reference = resolution.reference
                await self._record(
                    "finance.paid_offline",
                    RefundStatus.REFUNDED,
                    actor=resolution.resolved_by,
                    note=resolution.note,
                    at=self._refunded_at,
                    detail={"reference": resolution.reference},
                )
                self._payout_recorded = True
                self._after_refunded()
                return
            await self._record(
                "finance.retry_gateway",
                RefundStatus.APPROVED,
                actor=resolution.resolved_by,
                note=resolution.note,
            )
            self._payout_recorded = True

    async def _gateway_attempt(self) -> tuple[FinanceTaskKind, str] | None:
        """One refund request and its outcome: None once refunded, else why it failed."""
        request = self._request
        order = GatewayRefundOrder(
            refund_id=request.refund_id,
            order_id=request.order_id,
            gateway=request.gateway,
            gateway_trade_no=request.gateway_trade_no,
            refund_fen=request.refund_amount_fen,
            total_fen=request.amount_paid_fen,
            reason=request.reason,
        )
        self._show(temporal_views.refund_paying(amount_fen=order.refund_fen, gateway=order.gateway.value))
        try:
            accepted = await workflow.execute_activity_method(
                PaymentActivities.request_gateway_refund,
                order,
                start_to_close_timeout=GATEWAY_TIMEOUT,
                retry_policy=GATEWAY_RETRY,
                summary=f"Refund {order.refund_fen} fen via {order.gateway.value}",
            )
        except ActivityError as error:
            detail = str(error.cause)
            await self._record(
                "gateway.refused", RefundStatus.REFUND_FAILED, actor=request.gateway.value, note=detail
            )
            return FinanceTaskKind.GATEWAY_REFUSED, detail
        settles_by = workflow.now() + GATEWAY_SETTLES_WITHIN
        await self._record(
            "gateway.requested",
            RefundStatus.REFUNDING,
            actor="system",
            gateway_refund_id=accepted.gateway_refund_id,
        )
        self._hold("", settles_by)
        self._gateway_results.append(accepted)
        result = await self._conclusive_gateway_result()
        if result.outcome is GatewayOutcome.SUCCESS:
            self._refunded_at = result.succeeded_at or workflow.now()
            await self._record(
                "gateway.succeeded",
                RefundStatus.REFUNDED,
                actor=request.gateway.value,
                at=self._refunded_at,
                gateway_refund_id=result.gateway_refund_id,
                detail={"source": result.source},
            )
            self._after_refunded()
            return None
        detail = f"the gateway reported {result.outcome.value}"
        await self._record(
            f"gateway.{result.outcome.value}",
            RefundStatus.REFUND_FAILED,
            actor=request.gateway.value,
            note=detail,
            detail={"source": result.source},
        )
        kind = (
            FinanceTaskKind.GATEWAY_CLOSED
            if result.outcome is GatewayOutcome.CLOSED
            else FinanceTaskKind.GATEWAY_ABNORMAL
        )
        return kind, detail

    def _after_refunded(self) -> None:
        """The money is with the student: tell them and the team, tell subscribers (the CRM re-tags
        the student), and revoke the enrollment."""
        request = self._request
        self._hold("", None)
        self._show(
            temporal_views.refund_refunded(
                amount_fen=request.refund_amount_fen,
                gateway=request.gateway.value,
                at=self._refunded_at or workflow.now(),
                offline_reference=self._payout_reference,
            )
        )
        self._notify(NoticeEvent.REFUND_SUCCEEDED)
        self._notify_team(NoticeEvent.TEAM_REFUND_PAID)
        self._publish(OutboundEventType.REFUND_REFUNDED)
        self._messenger.spawn(self._revoke_enrollment())

    async def _finance_resolution(self, attempt: int, kind: FinanceTaskKind, detail: str) -> PayoutResolution:
        """Open a finance task, tell the student of the delay and the team of the task, and wait for
        finance's answer (reminding staff chat daily). The order stays locked all along."""
        task_id = finance_task_id(self._request.refund_id, attempt)
        await workflow.execute_activity_method(
            FinanceActivities.open_finance_task,
            FinanceTaskOpening(task_id=task_id, refund_id=self._request.refund_id, kind=kind, detail=detail),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"Open finance task {task_id}",
        )
        # Open for finance's answer from the moment the task is listed, even before it is recorded.
        self._finance_task = (task_id, kind)
        self._payout_recorded = False
        await self._record(
            "finance.task_opened",
            RefundStatus.REFUND_FAILED,
            actor="system",
            note=detail,
            detail={"task_id": task_id, "kind": kind.value},
        )
        self._hold("finance", None)
        self._show(temporal_views.refund_with_finance(task_id=task_id, problem=detail))
        # The student was told the money is on its way: say at once that it is delayed.
        self._notify(NoticeEvent.REFUND_DELAYED)
        stuck = {"finance_task_id": task_id, "gateway_detail": detail}
        self._notify_team(NoticeEvent.TEAM_REFUND_STUCK, reminder_count=0, **stuck)
        self._publish(OutboundEventType.REFUND_DELAYED, finance_task_id=task_id)

        async def remind(count: int) -> None:
            self._notify_team(NoticeEvent.TEAM_REFUND_STUCK, reminder_count=count, **stuck)

        await self._wait_reminding(
            lambda: self._payout is not None,
            every=FINANCE_REMINDER_EVERY,
            what=f"waiting for finance on {task_id}",
            remind=remind,
        )
        resolution = self._payout
        assert resolution is not None
        self._payout = None
        self._finance_task = None
        self._hold("", None)
        await workflow.execute_activity_method(
            FinanceActivities.close_finance_task,
            FinanceTaskClosing(task_id=task_id, resolution=resolution),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"Close finance task {task_id}",
        )
        return resolution

    async def _revoke_enrollment(self) -> None:
        """The money is back with the student, so the course is no longer theirs: tell the commerce
        system (retried for up to two days; a refusal is recorded for staff to follow up)."""
        request = self._request
        try:
            await workflow.execute_activity_method(
                CommerceActivities.revoke_enrollment,
                EnrollmentRevocation(
                    refund_id=request.refund_id,
                    order_id=request.order_id,
                    student_id=request.student.id,
                    course_id=request.course.id,
                ),
                start_to_close_timeout=GATEWAY_TIMEOUT,
                schedule_to_close_timeout=NOTICE_DEADLINE,
                retry_policy=NOTICE_RETRY,
                summary="Revoke the course enrollment in the commerce system",
            )
        except ActivityError as error:
            await self._record(
                "enrollment.revoke_failed", RefundStatus.REFUNDED, actor="commerce", note=str(error.cause)
            )
            return
        await self._record("enrollment.revoked", RefundStatus.REFUNDED, actor="commerce")

    async def _conclusive_gateway_result(self) -> GatewayRefundResult:
        """Wait for the gateway's final word: its callback, or its query API when the callback is late."""
        waits = gateway_poll_minutes()
        while True:
            while self._results_read < len(self._gateway_results):
                result = self._gateway_results[self._results_read]
                self._results_read += 1
                if not self._matches_this_refund(result):
                    await self._record(
                        "gateway.mismatch_ignored",
                        self._status,
                        actor=self._request.gateway.value,
                        note="a gateway result whose refund or amount does not match was not applied",
                        detail=result.model_dump(mode="json"),
                    )
                elif result.outcome is not GatewayOutcome.PROCESSING:
                    return result
            wait = timedelta(minutes=next(waits))
            request = self._request
            assert self._due_at is not None
            self._show(
                temporal_views.refund_awaiting_callback(
                    amount_fen=request.refund_amount_fen,
                    gateway=request.gateway.value,
                    overdue_at=self._due_at,
                    next_check=workflow.now() + wait,
                )
            )
            try:
                await workflow.wait_condition(
                    lambda: self._results_read < len(self._gateway_results),
                    timeout=wait,
                    timeout_summary="waiting for the gateway's callback",
                )
            except TimeoutError:
                answer = await workflow.execute_activity_method(
                    PaymentActivities.query_gateway_refund,
                    GatewayQuery(refund_id=self._request.refund_id, gateway=self._request.gateway),
                    start_to_close_timeout=GATEWAY_TIMEOUT,
                    retry_policy=GATEWAY_RETRY,
                    summary="Ask the gateway how the refund stands",
                )
                if answer is not None:
                    self._gateway_results.append(answer)

    def _matches_this_refund(self, result: GatewayRefundResult) -> bool:
        request = self._request
        return (
            result.refund_id == request.refund_id
            and result.refund_fen == request.refund_amount_fen
            and result.total_fen == request.amount_paid_fen
        )

    async def _record(
        self,
        event: str,
        status: RefundStatus,
        *,
        actor: str,
        note: str = "",
        at: datetime | None = None,
        intake: bool = False,
        **fields: Any,
    ) -> None:
        """Write the step to the projection and audit trail, then move to `status`. In that order, so
        whoever sees the new status (an update's caller, a query) finds the database agreeing.
        `intake`: the refund's first step, which waits behind refunds already under way."""
        self._steps += 1
        moment = at or workflow.now()
        await workflow.execute_activity_method(
            RecordActivities.record_refund_event,
            RefundEvent(
                refund_id=self._request.refund_id,
                event_key=f"{self._workflow_id}:{self._steps}:{event}",
                event=event,
                status=status,
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
        self._status = status
        self._timeline.append(TimelineEntry(at=moment, event=event, status=status, actor=actor, note=note))
        workflow.upsert_search_attributes([search_attributes.REFUND_STATUS.value_set(status.value)])

    def _hold(self, assignee: str, due: datetime | None) -> None:
        """Who holds the refund now ("" for nobody: it waits on the gateway or is done) and until
        when; support filters on both in the Temporal UI (`AssignedTo`, `SlaDueAt`)."""
        self._assigned_to = assignee
        self._due_at = due
        due_at = search_attributes.SLA_DUE_AT
        workflow.upsert_search_attributes(
            [search_attributes.assigned_to(assignee), due_at.value_set(due) if due else due_at.value_unset()]
        )

    def _show(self, sentence: str) -> None:
        """The sentence the Temporal UI shows as this workflow's current details."""
        self._details = sentence
        workflow.set_current_details(sentence)

    # --- notices, staff chat and outbound events (sent beside the main path) ---------------------

    def _notify(self, event: NoticeEvent) -> None:
        self._messenger.to_student(event, self._notice_context())

    def _notify_staff(self, event: NoticeEvent, staff: Recipient, due: datetime) -> None:
        self._messenger.to_staff(event, staff, {**self._notice_context(), "review_due_at": due.isoformat()})

    def _notify_team(self, event: NoticeEvent, **extra: Any) -> None:
        self._messenger.to_team(event, {**self._notice_context(), **extra})

    def _publish(self, event_type: OutboundEventType, **extra: Any) -> None:
        request = self._request
        data = {
            "refund_id": request.refund_id,
            "order_id": request.order_id,
            "student_id": request.student.id,
            "course_id": request.course.id,
            "course_type": request.course.type.value,
            "status": self._status.value,
            "gateway": request.gateway.value,
            "amount_paid_fen": request.amount_paid_fen,
            "refund_amount_fen": request.refund_amount_fen,
            "fee_fen": request.fee_fen,
            "decision_reason": self._decision_reason or None,
            "refunded_at": self._refunded_at.isoformat() if self._refunded_at else None,
            "paid_outside_gateway": self._payout_reference is not None,
            **extra,
        }
        self._messenger.publish(event_type, self._steps, data)

    def _notice_context(self) -> dict[str, Any]:
        request = self._request
        context: dict[str, Any] = {
            "refund_id": request.refund_id,
            "order_id": request.order_id,
            "student_name": request.student.name,
            "course_name": request.course.name,
            "course_type": request.course.type.value,
            "status": self._status.value,
            "reason": request.reason,
            "requested_at": request.requested_at.isoformat(),
            "amount_paid_fen": request.amount_paid_fen,
            "fee_fen": request.fee_fen,
            "refund_amount_fen": request.refund_amount_fen,
            "gateway": request.gateway.value,
            "decision_reason": self._decision_reason,
            "requested_fen": request.requested_fen,
            "payout_reference": self._payout_reference,
        }
        if self._refunded_at is not None:
            context["refunded_at"] = self._refunded_at.isoformat()
        if self._expected_arrival is not None:
            context["expected_arrival"] = self._expected_arrival.isoformat()
        return context
