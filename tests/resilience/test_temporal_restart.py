"""The Temporal dev server stopped mid-run and started again on the same database file and port, while
refunds and complaints are in flight: the worker and the API find it again by themselves (the same
processes, never restarted), and every case completes — money moved once, every notice sent once."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from bench.traffic import enrol, login
from devstack.system import System
from tests.resilience.invariants import (
    all_workflows_closed,
    audit_chains_intact,
    each_student_told_once,
    email_rows_match_the_mailbox,
    gateway_success_recorded_once,
    inbox_expected,
    money_moved_once,
    refunded_through_the_api,
)
from tests.resilience.traffic import ComplaintTraffic, RefundTraffic

pytestmark = [pytest.mark.integration, pytest.mark.resilience]

STUDENTS, ORDERS_EACH = 5, 6  # 30 refunds; and two complaints per student
STOP_AT_PROGRESS = (0.2, 0.5)  # of the refunds' way (random, seeded)
DOWN_SECONDS = (10.0, 20.0)


@pytest.mark.timeout(600)
async def test_cases_complete_across_a_temporal_server_restart(system: System, rng: random.Random) -> None:
    enrolled = await enrol(system, students=STUDENTS, orders_each=ORDERS_EACH, rng=rng)
    lead = await login(system, "lead@demo")
    refunds = RefundTraffic(system, enrolled.journeys, lead)
    complaints = ComplaintTraffic(system, list(enrolled.headers.items()) * 2, lead)
    worker_pid, api_pid = system.worker.pid, system.api_process.pid
    stop_at, down = rng.uniform(*STOP_AT_PROGRESS), rng.uniform(*DOWN_SECONDS)

    began = time.monotonic()
    async with asyncio.TaskGroup() as work:
        work.create_task(refunds.run(within_seconds=420))
        work.create_task(complaints.run(within_seconds=420))
        await refunds.reached(stop_at)
        stopped_at = refunds.progress
        system.temporal_server.stop()  # SIGTERM, then SIGKILL if it lingers
        await asyncio.sleep(down)
        system.temporal_server.start()
        await system.temporal_server.serving()
    await all_workflows_closed(system, within_seconds=180)

    # Found the server again by themselves: the same processes, never restarted.
    for piece, pid in ((system.worker, worker_pid), (system.api_process, api_pid)):
        assert piece.running and piece.pid == pid, f"{piece.name} gave up on the server:\n{piece.log_tail()}"
    refund_ids = {journey.refund_id for journey in enrolled.journeys if journey.refund_id}
    await refunded_through_the_api(system, lead, refund_ids)
    asked = await money_moved_once(system, refund_ids)
    gateway_success_recorded_once(system, refund_ids)
    await each_student_told_once(
        system, enrolled.headers, inbox_expected(refunds.refunds, complaints.complaints)
    )
    emails = email_rows_match_the_mailbox(system, resends_allowed=False)
    cases = audit_chains_intact(system)
    print(
        f"{len(refund_ids)} refunds and {len(complaints.complaints)} complaints; server stopped at progress "
        f"{stopped_at:.2f} for {down:.0f}s; all closed after {time.monotonic() - began:.0f}s; gateway asked "
        f"{sum(asked.values())} times; {emails} emails once each; {cases} audit chains intact"
    )
