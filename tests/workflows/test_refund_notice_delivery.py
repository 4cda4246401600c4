"""How notices reach the student: SMS waits out quiet hours on a durable timer, and a channel that
refuses a notice for good hands it to the other one."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.courses import CourseType
from domain.notifications import Channel
from domain.refunds import Decision, RefundStatus
from domain.timeutil import SHANGHAI
from tests.workflows.refund_fakes import FakeActivities, decision, refund_request, start, timers_started
from workflows.refund import RefundWorkflow


async def _until_beijing(env: WorkflowEnvironment, hour: int, minute: int) -> datetime:
    """Skip the test server's clock forward to the next hh:mm in Beijing."""
    now = (await env.get_current_time()).astimezone(SHANGHAI)
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    await env.sleep(target - now)
    return target


async def test_an_sms_due_at_night_waits_for_the_morning_and_nothing_else_does(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    await _until_beijing(env, 21, 30)
    handle = await start(env.client, refund_request(phone="13800138000"))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    assert (await handle.query(RefundWorkflow.state)).status is RefundStatus.REJECTED
    sent_at_night = {(n.event.value, n.channel) for n in fakes.notices}
    assert (("refund_rejected", Channel.EMAIL)) in sent_at_night  # email and inbox go at once
    assert not [n for n in fakes.notices if n.channel is Channel.SMS]

    await handle.result()  # the worker waits for the SMS: the server skips ahead to 08:00
    sms = [n for n in fakes.notices if n.channel is Channel.SMS]
    assert sorted(n.event.value for n in sms) == ["refund_received", "refund_rejected"]
    # Each SMS slept from about 21:30 until 08:00 (the other timer is the review reminder's).
    quiet = [t for t in await timers_started(handle) if t != timedelta(hours=24)]
    assert len(quiet) == 2
    assert all(timedelta(hours=10, minutes=29) <= t <= timedelta(hours=10, minutes=31) for t in quiet)


async def test_a_bounced_email_goes_out_by_sms_when_the_policy_does_not_send_sms_anyway(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    await _until_beijing(env, 10, 0)
    fakes.email_refused = True
    handle = await start(env.client, refund_request(phone="13800138000", course_type=CourseType.TRIAL))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    await handle.result()
    by_channel = sorted((n.event.value, n.channel.value, n.fallback_of is not None) for n in fakes.notices)
    assert by_channel == [
        ("refund_received", "email", False),
        ("refund_received", "inbox", False),
        ("refund_received", "sms", True),
        ("refund_rejected", "email", False),
        ("refund_rejected", "inbox", False),
        ("refund_rejected", "sms", True),
    ]
    fallback = next(n for n in fakes.notices if n.fallback_of)
    assert fallback.fallback_of == fallback.notification_id.removesuffix(":fallback:sms")
    assert fallback.recipient.phone == "13800138000"


async def test_no_fallback_onto_a_channel_the_student_is_told_on_anyway_nor_a_second_one(
    env: WorkflowEnvironment, worker: Worker, fakes: FakeActivities
) -> None:
    await _until_beijing(env, 10, 0)
    fakes.email_refused = fakes.sms_refused = True
    # Regular courses notify by SMS too: a bounced email has nowhere new to go.
    handle = await start(env.client, refund_request(phone="13800138000"))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    await handle.result()
    assert not [n for n in fakes.notices if n.fallback_of]
    # Trial: the email bounces, the SMS fallback is refused too, and it stops there.
    fakes.notices.clear()
    handle = await start(env.client, refund_request(phone="13800138000", course_type=CourseType.TRIAL))
    await handle.execute_update(RefundWorkflow.decide, decision(Decision.REJECT, "不符合退款条件"))
    await handle.result()
    assert [n.channel for n in fakes.notices if n.fallback_of] == [Channel.SMS, Channel.SMS]
