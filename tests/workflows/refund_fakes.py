"""Fakes and helpers for RefundWorkflow tests: activities that record what they were asked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

from domain.compensation import (
    CompensationIssue,
    CompensationKind,
    CompensationOutcome,
    CompensationReservation,
    CompensationStatus,
    CompensationTicket,
    QuotaPeriod,
    QuotaUse,
)
from domain.complaints import ComplaintAssignment, ComplaintEvent, Department, RefundIntake, VideoRoom
from domain.courses import CourseType, Gateway
from domain.finance import FinanceTaskClosing, FinanceTaskOpening
from domain.notice_variables import RENDERER_VARIABLES, allowed_variables
from domain.notifications import Channel, NotificationStatus, NotifyInput, NotifyResult, Recipient
from domain.policy import Eligibility
from domain.refunds import (
    Assignment,
    AssignmentRequest,
    CourseSnapshot,
    Decision,
    EnrollmentRevocation,
    GatewayOutcome,
    GatewayQuery,
    GatewayRefundOrder,
    GatewayRefundResult,
    RefundEvent,
    RefundRequest,
    RefundState,
    RefundStatus,
    ReviewDecision,
    StudentSnapshot,
)
from domain.webhooks import OutboundEvent, delivery_id_for
from integrations.video_rooms import LinkRoomProvider
from tests.factories import default_policy
from workflows.refund import RefundWorkflow

TASK_QUEUE = "refund-workflow-tests"


class FakeActivities:
    """Stand-ins registered under the real activity names."""

    def __init__(self) -> None:
        self.events: list[RefundEvent] = []
        self.notices: list[NotifyInput] = []
        self.gateway_orders: list[GatewayRefundOrder] = []
        self.queries: list[GatewayQuery] = []
        self.gateway_refuses = False
        self.email_refused = False
        self.sms_refused = False
        self.query_answer: GatewayOutcome | None = None
        self.record_seconds = 0.0  # how long each write takes, to widen the race windows
        self.assignment = Assignment(
            group_id="regular-courses",
            group_name="系统正价课",
            reviewer=Recipient(user_id="U-REV", name="王审核", email="reviewer@example.test"),
            lead=Recipient(user_id="U-LEAD", name="刘主管", email="lead@example.test"),
        )
        self.assignments: list[AssignmentRequest] = []
        self.revocations: list[EnrollmentRevocation] = []
        self.finance_opened: list[FinanceTaskOpening] = []
        self.finance_closed: list[FinanceTaskClosing] = []
        self.published: list[OutboundEvent] = []
        self.complaint_events: list[ComplaintEvent] = []
        self.complaint_assignment = ComplaintAssignment(
            department=Department.TECH_SUPPORT,
            agent=Recipient(user_id="U-AGENT", name="陈客服", email="agent@example.test"),
            lead=Recipient(user_id="U-LEAD", name="刘主管", email="lead@example.test"),
        )
        self.webhook_deliveries: list[str] = []
        # The compensation ledger, as far as the workflow sees it: what the offerer has left.
        self.coupon_fen_left = 5_000
        self.progress_resets_left = 3
        self.reservations: list[CompensationReservation] = []
        self.compensations_given: list[CompensationIssue] = []
        self.compensation_outcomes: list[CompensationOutcome] = []
        self.commerce_refuses = False
        self.refund_intakes: list[RefundIntake] = []
        self.refund_refusal: str | None = None  # what the intake says instead of taking a refund in
        self.video_rooms = LinkRoomProvider(base_url="https://meet.school.test", secret="test-video-secret")
        self.video_rooms_down = False
        self.complaint_assign_gate: asyncio.Event | None = None  # set: assignment may finish
        self.complaint_record_gates: dict[str, asyncio.Event] = {}  # event → set: it may be recorded

    def result(
        self, refund_id: str, amount: int, total: int, outcome: GatewayOutcome, source: str
    ) -> GatewayRefundResult:
        return GatewayRefundResult(
            refund_id=refund_id,
            gateway_refund_id="SB-FAKE",
            outcome=outcome,
            refund_fen=amount,
            total_fen=total,
            succeeded_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
            if outcome is GatewayOutcome.SUCCESS
            else None,
            source=source,
        )

    def definitions(self) -> list:
        @activity.defn(name="record_refund_event")
        async def record_refund_event(step: RefundEvent) -> None:
            await asyncio.sleep(self.record_seconds)
            self.events.append(step)

        @activity.defn(name="assign_reviewer")
        async def assign_reviewer(request: AssignmentRequest) -> Assignment:
            self.assignments.append(request)
            return self.assignment

        @activity.defn(name="revoke_enrollment")
        async def revoke_enrollment(revocation: EnrollmentRevocation) -> str:
            self.revocations.append(revocation)
            return "revoked"

        @activity.defn(name="send_notice")
        async def send_notice(notice: NotifyInput) -> NotifyResult:
            # Every variable a template of this event may use is there (the renderer's
            # StrictUndefined would fail the real send otherwise).
            missing = allowed_variables(notice.event) - RENDERER_VARIABLES - set(notice.context)
            assert not missing, f"{notice.event} notice lacks {sorted(missing)}"
            self.notices.append(notice)
            if notice.channel is Channel.EMAIL and self.email_refused:
                raise ApplicationError(
                    "550 no such mailbox", type="PermanentDeliveryError", non_retryable=True
                )
            if notice.channel is Channel.SMS and self.sms_refused:
                raise ApplicationError(
                    "isv.MOBILE_NUMBER_ILLEGAL", type="PermanentDeliveryError", non_retryable=True
                )
            return NotifyResult(notification_id=notice.notification_id, status=NotificationStatus.SENT)

        @activity.defn(name="request_gateway_refund")
        async def request_gateway_refund(order: GatewayRefundOrder) -> GatewayRefundResult:
            self.gateway_orders.append(order)
            if self.gateway_refuses:
                raise ApplicationError("trade closed", type="RefundRefusedByGateway", non_retryable=True)
            return self.result(
                order.refund_id, order.refund_fen, order.total_fen, GatewayOutcome.PROCESSING, "request"
            )

        @activity.defn(name="query_gateway_refund")
        async def query_gateway_refund(query: GatewayQuery) -> GatewayRefundResult | None:
            self.queries.append(query)
            if self.query_answer is None:
                return None
            return self.result(query.refund_id, 179_910, 199_900, self.query_answer, "query")

        @activity.defn(name="open_finance_task")
        async def open_finance_task(opening: FinanceTaskOpening) -> str:
            self.finance_opened.append(opening)
            return opening.task_id

        @activity.defn(name="close_finance_task")
        async def close_finance_task(closing: FinanceTaskClosing) -> None:
            self.finance_closed.append(closing)

        @activity.defn(name="fan_out_event")
        async def fan_out_event(event: OutboundEvent) -> list[str]:
            self.published.append(event)
            return [delivery_id_for(event.id, "crm")]

        @activity.defn(name="deliver_webhook")
        async def deliver_webhook(delivery_id: str) -> str:
            self.webhook_deliveries.append(delivery_id)
            return "sent"

        @activity.defn(name="record_complaint_event")
        async def record_complaint_event(step: ComplaintEvent) -> None:
            gate = self.complaint_record_gates.get(step.event)
            if gate is not None:
                await gate.wait()
            self.complaint_events.append(step)

        @activity.defn(name="assign_complaint")
        async def assign_complaint(department: Department) -> ComplaintAssignment:
            if self.complaint_assign_gate is not None:
                await self.complaint_assign_gate.wait()
            return self.complaint_assignment.model_copy(update={"department": department})

        @activity.defn(name="reserve_compensation")
        async def reserve_compensation(reservation: CompensationReservation) -> CompensationTicket:
            self.reservations.append(reservation)
            offer = reservation.offer
            now = reservation.at
            use = QuotaUse(
                period=QuotaPeriod.DAY,
                period_start=QuotaPeriod.DAY.start(now),
                coupon_fen_used=0,
                coupon_fen_left=self.coupon_fen_left,
                progress_resets_used=0,
                progress_resets_left=self.progress_resets_left,
            )
            within = use.covers(offer)
            if within and offer.kind is CompensationKind.COUPON:
                self.coupon_fen_left -= offer.amount_fen or 0
            elif within:
                self.progress_resets_left -= 1
            status = CompensationStatus.ISSUING if within else CompensationStatus.AWAITING_APPROVAL
            left = use.model_copy(
                update={
                    "coupon_fen_left": self.coupon_fen_left,
                    "progress_resets_left": self.progress_resets_left,
                }
            )
            return CompensationTicket(compensation_id=reservation.compensation_id, status=status, quota=left)

        @activity.defn(name="issue_compensation")
        async def issue_compensation(issue: CompensationIssue) -> str:
            self.compensations_given.append(issue)
            if self.commerce_refuses:
                raise ApplicationError(
                    "403 coupon campaign closed", type="CompensationRefused", non_retryable=True
                )
            return f"CPN-{issue.compensation_id}"

        @activity.defn(name="settle_compensation")
        async def settle_compensation(outcome: CompensationOutcome) -> None:
            self.compensation_outcomes.append(outcome)

        @activity.defn(name="take_in_refund")
        async def take_in_refund(intake: RefundIntake) -> RefundRequest:
            self.refund_intakes.append(intake)
            if self.refund_refusal:
                raise ApplicationError(self.refund_refusal, type="RefundRefused", non_retryable=True)
            return refund_request().model_copy(update={"order_id": intake.order_id, "reason": intake.reason})

        @activity.defn(name="open_video_room")
        async def open_video_room(invitation_id: str) -> VideoRoom:
            if self.video_rooms_down:
                raise ApplicationError(
                    "503 from the meeting service", type="VideoRoomRefused", non_retryable=True
                )
            return await self.video_rooms.open_room(invitation_id)

        return [
            open_video_room,
            take_in_refund,
            reserve_compensation,
            issue_compensation,
            settle_compensation,
            record_complaint_event,
            assign_complaint,
            open_finance_task,
            close_finance_task,
            fan_out_event,
            deliver_webhook,
            record_refund_event,
            assign_reviewer,
            send_notice,
            request_gateway_refund,
            query_gateway_refund,
            revoke_enrollment,
        ]


def refund_request(
    *,
    email: str | None = "student@example.test",
    phone: str | None = None,
    eligibility: Eligibility = Eligibility.ELIGIBLE,
    reason_text: str | None = None,
    manager_call: bool = False,
    course_type: CourseType = CourseType.REGULAR,
) -> RefundRequest:
    refund_id = f"RFTEST{uuid.uuid4().hex[:10].upper()}"
    return RefundRequest(
        refund_id=refund_id,
        order_id="O-1",
        student=StudentSnapshot(id="S1", name="林小雨", email=email, phone=phone, locale="zh-CN"),
        course=CourseSnapshot(id="C1", name="数据分析系统正价课", type=course_type),
        reason="工作调动",
        requested_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        amount_paid_fen=199_900,
        requested_fen=199_900,
        fee_fen=19_990,
        refund_amount_fen=179_910,
        gateway=Gateway.WECHATPAY,
        gateway_trade_no="T1",
        policy=default_policy(course_type),  # regular: notices by inbox, email and SMS
        eligibility=eligibility,
        ineligible_reason_text=reason_text,
        needs_manager_confirmation=manager_call,
    )


async def start(client: Client, request: RefundRequest) -> WorkflowHandle:
    handle = await client.start_workflow(
        RefundWorkflow.run, request, id=f"refund-{request.refund_id}", task_queue=TASK_QUEUE
    )
    await wait_for_status(handle, RefundStatus.AWAITING_REVIEW)
    return handle


async def wait_for_status(handle: WorkflowHandle, status: RefundStatus) -> None:
    for _ in range(200):
        state: RefundState = await handle.query(RefundWorkflow.state)
        if state.status is status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {status}, stuck at {state.status}")


def decision(kind: Decision, reason: str = "符合退款政策") -> ReviewDecision:
    return ReviewDecision(decision=kind, reason=reason, reviewer_id="U-REV", reviewer_name="王审核")


async def timers_started(handle: WorkflowHandle) -> list[timedelta]:
    """The durable timers the workflow set, read from its history."""
    return [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        async for event in handle.fetch_history_events()
        if event.HasField("timer_started_event_attributes")
    ]


def notice_events(fakes: FakeActivities) -> list[tuple[str, str]]:
    return sorted((n.event.value, n.channel.value) for n in fakes.notices)


async def published_events(fakes: FakeActivities, event_type: str) -> list[str]:
    """The outbound event types published so far, once one of `event_type` is among them (events are
    fanned out beside the main path, so they may come after what the test waited for)."""
    for _ in range(200):
        published = [e.type.value for e in fakes.published]
        if event_type in published:
            return published
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event_type} was never published; saw {[e.type.value for e in fakes.published]}")


async def notices_of(fakes: FakeActivities, event: str, count: int) -> list[NotifyInput]:
    """The notices of one event, once `count` of them went out (they are sent beside the main path)."""
    for _ in range(200):
        sent = [n for n in fakes.notices if n.event.value == event]
        if len(sent) >= count:
            return sent
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} {event} notices never went out; saw {notice_events(fakes)}")
