"""What a case workflow (refund, complaint) sends beside its main path: notices to the student, to
one member of staff and to the team's chat, and outbound events for webhook subscribers.

Everything is started as a task and awaited by `finish()` before the workflow ends, so a slow mail
server or subscriber never holds a case up. Ids are deterministic (the n-th notice of an event on a
channel is the n-th id; an event's id names the step it follows), so a replay or a retry sends
nothing twice. Deterministic code only: this runs inside workflows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from activities.webhooks import WebhookActivities
    from domain.notifications import (
        DEADLINE_NOTICES,
        FALLBACK_CHANNEL,
        TEAM,
        Channel,
        NoticeCount,
        NoticeEvent,
        NotifyInput,
        QuietHours,
        Recipient,
        channels_for,
        notification_id_for,
    )
    from domain.refunds import StudentSnapshot
    from domain.sla_events import SLA_EVENTS
    from domain.webhooks import OutboundEvent, OutboundEventType

RECORD_TIMEOUT = timedelta(seconds=30)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
NOTICE_TIMEOUT = timedelta(seconds=60)
# A notice keeps trying for two days (an SMTP outage must not lose mail), then gives up on record.
NOTICE_DEADLINE = timedelta(days=2)
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=2, maximum_interval=timedelta(minutes=5)
)
# Deadline work — an SLA warning or breach recorded, the staff told of it — goes ahead of everything
# else waiting on the task queue (Temporal's task queue priority: 1 first; unset means 3). Without it,
# under a flood of new cases, a breach's record queued behind their intake and was written up to 71 s
# after it was due (docs/benchmarks.md). Replay does not compare priorities, so histories recorded
# without them replay unchanged (tests/test_replay.py).
DEADLINE_PRIORITY = Priority(priority_key=1)
# A new case's first step (its receipt written) waits behind the steps of cases already under way
# (priority 4, below the default). Under a flood of new cases, each case once started then runs
# through its intake ahead of the newer ones, so the cases in motion stay few. Without it they all
# advanced a step at a time together: at 2,000 refunds asked at once, more cases were in motion than
# the worker's sticky cache holds, nearly every workflow task replayed its history from the start,
# and a reviewer's decision waited behind them past the API's 15 s (docs/benchmarks.md). With nothing
# queued, priorities change nothing.
INTAKE_PRIORITY = Priority(priority_key=4)
WEBHOOK_TIMEOUT = timedelta(seconds=30)
# A subscriber that is down is tried again for two days, backing off to once an hour.
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10), backoff_coefficient=2, maximum_interval=timedelta(hours=1)
)


def record_priority(event: str, *, intake: bool = False) -> Priority:
    """The task queue priority of the activity that records `event` (an audit event's name);
    `intake`: the event is the case's first step."""
    if event in SLA_EVENTS:
        return DEADLINE_PRIORITY
    return INTAKE_PRIORITY if intake else Priority.default


def notice_priority(event: NoticeEvent) -> Priority:
    return DEADLINE_PRIORITY if event in DEADLINE_NOTICES else Priority.default


class CaseMessenger:
    def __init__(
        self,
        *,
        workflow_id: str,
        case_type: str,
        case_id: str,
        student: StudentSnapshot,
        student_channels: list[Channel],
        sms_quiet_hours: QuietHours | None,
        sent_before: list[NoticeCount] | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.case_type = case_type
        self.case_id = case_id
        self.student = student
        self.student_channels = student_channels
        self.sms_quiet_hours = sms_quiet_hours
        # Notices sent so far per event and channel (a continued run takes over the counts).
        self._sent: dict[tuple[NoticeEvent, Channel], int] = {
            (count.event, count.channel): count.count for count in sent_before or []
        }
        self._tasks: list[asyncio.Task[None]] = []

    # --- beside the main path ----------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work))

    @property
    def idle(self) -> bool:
        """Nothing started beside the main path is still running."""
        self._tasks = [task for task in self._tasks if not task.done()]
        return not self._tasks

    def sent_counts(self) -> list[NoticeCount]:
        return [
            NoticeCount(event=event, channel=channel, count=n) for (event, channel), n in self._sent.items()
        ]

    async def finish(self) -> None:
        """Wait for everything started beside the main path (call before the workflow ends)."""
        while self._tasks:
            pending, self._tasks = self._tasks, []
            await asyncio.gather(*pending)

    # --- notices -------------------------------------------------------------------------------

    def to_student(
        self, event: NoticeEvent, context: dict[str, Any], *, told_on: frozenset[Channel] = frozenset()
    ) -> None:
        """On the case's channels the student can be reached on, less those `told_on` already."""
        student = self.student
        recipient = Recipient(
            user_id=student.id,
            name=student.name,
            email=student.email,
            phone=student.phone,
            locale=student.locale,
            wechat_openid=student.wechat_openid,
            wechat_oa_openid=student.wechat_oa_openid,
        )
        reachable = {
            Channel.INBOX: True,
            Channel.EMAIL: bool(student.email),
            Channel.SMS: bool(student.phone),
            Channel.WECHAT: bool(student.wechat_openid),
            Channel.WECHAT_OA: bool(student.wechat_oa_openid),
        }
        for channel in channels_for(event, self.student_channels, student.muted_channels):
            if reachable.get(channel) and channel not in told_on:
                self._queue(event, channel, recipient, context)

    def to_staff(self, event: NoticeEvent, staff: Recipient, context: dict[str, Any]) -> None:
        self._queue(event, Channel.INBOX, staff, {**context, "staff_name": staff.name})

    def to_team(self, event: NoticeEvent, context: dict[str, Any]) -> None:
        self._queue(event, Channel.STAFF_CHAT, TEAM, context)

    def _queue(
        self, event: NoticeEvent, channel: Channel, recipient: Recipient, context: dict[str, Any]
    ) -> None:
        # The n-th notice of one event on one channel gets the n-th id: deterministic on replay, and
        # a recurring notice (a second delay, a reminder) is a new notification, not a no-op.
        sent_before = self._sent.get((event, channel), 0)
        self._sent[(event, channel)] = sent_before + 1
        notice = NotifyInput(
            notification_id=notification_id_for(self.workflow_id, event, channel, sent_before),
            case_type=self.case_type,
            case_id=self.case_id,
            event=event,
            channel=channel,
            recipient=recipient,
            context=context,
        )
        self.spawn(self._send(notice))

    async def _send(self, notice: NotifyInput) -> None:
        quiet_hours = self.sms_quiet_hours
        if notice.channel is Channel.SMS and quiet_hours and (wait := quiet_hours.wait(workflow.now())):
            until = f"{quiet_hours.end:%H:%M}"
            await workflow.sleep(wait, summary=f"quiet hours: the SMS waits until {until} Beijing time")
        try:
            await workflow.execute_activity_method(
                NotifyActivities.send_notice,
                notice,
                start_to_close_timeout=NOTICE_TIMEOUT,
                schedule_to_close_timeout=NOTICE_DEADLINE,
                retry_policy=NOTICE_RETRY,
                summary=f"{notice.event.value} by {notice.channel.value}",
                priority=notice_priority(notice.event),
            )
        except ActivityError as error:
            # Permanent failures are stored on the notification row by the activity itself.
            workflow.logger.warning("notice %s not delivered: %s", notice.notification_id, error.cause)
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == "PermanentDeliveryError":
                await self._fall_back(notice)

    async def _fall_back(self, refused: NotifyInput) -> None:
        """A dead number gets the notice by email, a bounced address by SMS — once, and only if
        the student is not being told on that channel anyway."""
        channel = FALLBACK_CHANNEL.get(refused.channel)
        if channel is None or refused.fallback_of or channel in self.student_channels:
            return
        recipient = refused.recipient
        if not (recipient.email if channel is Channel.EMAIL else recipient.phone):
            return
        await self._send(
            refused.model_copy(
                update={
                    "notification_id": f"{refused.notification_id}:fallback:{channel.value}",
                    "channel": channel,
                    "fallback_of": refused.notification_id,
                }
            )
        )

    # --- outbound events ------------------------------------------------------------------------

    def publish(self, event_type: OutboundEventType, step: int, data: dict[str, Any]) -> None:
        """Tell webhook subscribers; `step` is the number of the step just recorded."""
        event = OutboundEvent(
            id=f"{self.workflow_id}:{step}:{event_type.value}",
            type=event_type,
            occurred_at=workflow.now(),
            case_type=self.case_type,
            case_id=self.case_id,
            data=data,
        )
        self.spawn(self._deliver_event(event))

    async def _deliver_event(self, event: OutboundEvent) -> None:
        delivery_ids = await workflow.execute_activity_method(
            WebhookActivities.fan_out_event,
            event,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"Fan out {event.type.value} to webhook subscribers",
        )
        await asyncio.gather(*(self._deliver_webhook(delivery_id) for delivery_id in delivery_ids))

    async def _deliver_webhook(self, delivery_id: str) -> None:
        try:
            await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                delivery_id,
                start_to_close_timeout=WEBHOOK_TIMEOUT,
                schedule_to_close_timeout=NOTICE_DEADLINE,
                retry_policy=WEBHOOK_RETRY,
                summary=f"Deliver webhook {delivery_id}",
            )
        except ActivityError as error:
            # The delivery row records the subscriber's last answer.
            workflow.logger.warning("webhook %s not delivered: %s", delivery_id, error.cause)
