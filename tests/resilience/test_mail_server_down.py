"""The mail server down for two minutes while refunds and complaints run and send notices: the cases
go on without it, the emails wait (retried, on record), and once it is back every one arrives, once."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

import pytest
from sqlmodel import select
from temporalio.common import RetryPolicy

from bench.traffic import enrol, login
from db.models import Notification
from devstack.mailbox import read_mailbox
from devstack.system import System
from domain.notifications import Channel, NotificationStatus
from tests.resilience.invariants import (
    COMPLAINT_NOTICES,
    REFUND_NOTICES,
    all_workflows_closed,
    audit_chains_intact,
    each_student_told_once,
    email_rows_match_the_mailbox,
    emails_delivered,
    inbox_expected,
)
from tests.resilience.traffic import ComplaintTraffic, RefundTraffic
from workflows.messenger import NOTICE_RETRY

pytestmark = [pytest.mark.integration, pytest.mark.resilience]

OUTAGE = timedelta(minutes=2)
STUDENTS, ORDERS_EACH = 5, 4  # 20 refunds; and two complaints per student
# Time for the retries due once the server is back to run on a busy worker.
DELIVERY_SLACK = timedelta(seconds=60)


def longest_wait_after(outage: timedelta, policy: RetryPolicy) -> timedelta:
    """The longest a notice can wait once the server is back: the widest gap between retries the
    policy reaches within the outage's length (a notice whose retry fell just before the end
    waits that long for its next)."""
    assert policy.backoff_coefficient >= 1
    elapsed, gap = timedelta(0), policy.initial_interval
    while elapsed + gap < outage:
        elapsed += gap
        gap = gap * policy.backoff_coefficient
        if policy.maximum_interval is not None:
            gap = min(gap, policy.maximum_interval)
    return gap


def test_the_notice_retry_policy_waits_at_most_80s_after_a_two_minute_outage() -> None:
    """What the test below relies on, worked out: retries 5, 10, 20, 40 then 80 s apart."""
    assert longest_wait_after(OUTAGE, NOTICE_RETRY) == timedelta(seconds=80)
    assert longest_wait_after(timedelta(hours=1), NOTICE_RETRY) == NOTICE_RETRY.maximum_interval


def email_statuses(system: System) -> dict[str, str]:
    with system.sessions() as session:
        rows = session.exec(
            select(Notification.id, Notification.status).where(Notification.channel == Channel.EMAIL.value)
        )
        return dict(rows.all())


@pytest.mark.timeout(600)
async def test_mail_sent_while_the_mail_server_is_down_arrives_once_it_is_back(
    system: System, rng: random.Random
) -> None:
    enrolled = await enrol(system, students=STUDENTS, orders_each=ORDERS_EACH, rng=rng)
    lead = await login(system, "lead@demo")
    refunds = RefundTraffic(system, enrolled.journeys, lead)
    complaints = ComplaintTraffic(system, list(enrolled.headers.items()) * 2, lead)

    system.mailbox.stop()
    down_at = time.monotonic()
    async with asyncio.TaskGroup() as work:  # the cases never wait for the mail server
        work.create_task(refunds.run(within_seconds=300))
        work.create_task(complaints.run(within_seconds=300))
        await asyncio.sleep(OUTAGE.total_seconds())
        # Two minutes without mail: nothing sent, every email notice so far waiting to be retried.
        assert not read_mailbox(system.maildir)
        waiting = email_statuses(system)
        assert waiting and set(waiting.values()) == {NotificationStatus.RETRIED.value}, waiting
        await system.mailbox.started()
        back_at = time.monotonic()
    await all_workflows_closed(
        system, within_seconds=(longest_wait_after(OUTAGE, NOTICE_RETRY) + DELIVERY_SLACK).total_seconds()
    )
    delivered_at = time.monotonic()

    refund_workflows = [f"refund-{refund_id}" for refund_id in refunds.refunds]
    complaint_workflows = [f"complaint-{complaint_id}" for complaint_id in complaints.complaints]
    emails_delivered(system, refund_workflows, REFUND_NOTICES, resends_allowed=False)
    emails_delivered(system, complaint_workflows, COMPLAINT_NOTICES, resends_allowed=False)
    emails = email_rows_match_the_mailbox(system, resends_allowed=False)
    await each_student_told_once(
        system, enrolled.headers, inbox_expected(refunds.refunds, complaints.complaints)
    )
    cases = audit_chains_intact(system)
    print(
        f"{len(refund_workflows)} refunds and {len(complaint_workflows)} complaints; mail server down "
        f"{back_at - down_at:.0f}s; {len(waiting)} emails waited; all {emails} delivered once, the last "
        f"{delivered_at - back_at:.0f}s after it was back; {cases} audit chains intact"
    )
