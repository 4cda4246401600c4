"""The worker SIGKILLed at random moments while 300 refunds go from request to refunded, and started
again each time: every refund completes, the gateway pays each once, no student is told twice."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from bench.traffic import enrol, login
from devstack.processes import ServiceProcess
from devstack.system import System
from tests.resilience.invariants import (
    REFUND_NOTICES,
    all_workflows_closed,
    audit_chains_intact,
    each_student_told_once,
    emails_delivered,
    gateway_success_recorded_once,
    inbox_expected,
    money_moved_once,
    refunded_through_the_api,
)
from tests.resilience.traffic import RefundTraffic

pytestmark = [pytest.mark.integration, pytest.mark.resilience]

STUDENTS, ORDERS_EACH = 30, 10  # 300 refunds
KILLS = 4
# Each kill falls at a random point of its own stretch of the run's progress (0: nothing asked, 1: all
# refunded), once the worker has been back at work for a random while, and keeps it down for another.
KILL_AT_PROGRESS = (0.03, 0.85)
UP_SECONDS = (3.0, 10.0)
DOWN_SECONDS = (0.5, 5.0)


@pytest.fixture(scope="module")
def system_database(database_url: str) -> str:
    """SQLite, and PostgreSQL too when TEST_POSTGRES_URL is set (CI): a worker killed in the middle of
    a transaction is the database's business as much as Temporal's."""
    return database_url


class WorkerKiller:
    def __init__(self, worker: ServiceProcess, rng: random.Random, kills: int) -> None:
        self.worker = worker
        low, high = KILL_AT_PROGRESS
        stretch = (high - low) / kills
        self.at = [rng.uniform(low + n * stretch, low + (n + 1) * stretch) for n in range(kills)]
        self.up = [rng.uniform(*UP_SECONDS) for _ in range(kills)]
        self.down = [rng.uniform(*DOWN_SECONDS) for _ in range(kills)]
        self.done: list[float] = []  # the progress at each kill

    async def run(self, traffic: RefundTraffic) -> None:
        started = time.monotonic() - max(UP_SECONDS)  # the fixture's worker has been up long enough
        for at, up, down in zip(self.at, self.up, self.down, strict=True):
            await traffic.reached(at)
            await asyncio.sleep(max(0.0, started + up - time.monotonic()))
            self.worker.kill()
            self.done.append(traffic.progress)
            await asyncio.sleep(down)
            self.worker.start()
            started = time.monotonic()


@pytest.mark.timeout(900)
async def test_refunds_survive_a_worker_killed_at_random_moments(system: System, rng: random.Random) -> None:
    began = time.monotonic()
    enrolled = await enrol(system, students=STUDENTS, orders_each=ORDERS_EACH, rng=rng)
    lead = await login(system, "lead@demo")
    traffic = RefundTraffic(system, enrolled.journeys, lead)
    killer = WorkerKiller(system.worker, rng, KILLS)

    async with asyncio.TaskGroup() as together:  # a failure of one cancels the other
        together.create_task(traffic.run(within_seconds=600))
        together.create_task(killer.run(traffic))
    assert len(killer.done) == KILLS, f"only {len(killer.done)} kills happened before the work was done"
    refunded_at = time.monotonic()
    await all_workflows_closed(system, within_seconds=180)

    refund_ids = {journey.refund_id for journey in enrolled.journeys if journey.refund_id}
    assert len(refund_ids) == STUDENTS * ORDERS_EACH
    await refunded_through_the_api(system, lead, refund_ids)
    asked = await money_moved_once(system, refund_ids)
    gateway_success_recorded_once(system, refund_ids)
    await each_student_told_once(system, enrolled.headers, inbox_expected(traffic.refunds))
    resends = emails_delivered(
        system, [f"refund-{refund_id}" for refund_id in refund_ids], REFUND_NOTICES, resends_allowed=True
    )
    # A resend needs a kill between the mail server's 250 and the row saying `sent`: at most one per
    # email activity running at each kill.
    assert resends <= KILLS * system.settings.worker_activity_slots, (
        f"{resends} emails sent again after {KILLS} kills"
    )
    cases = audit_chains_intact(system)
    print(
        f"{len(refund_ids)} refunds, kills at progress {[round(p, 2) for p in killer.done]}; "
        f"refunded after {refunded_at - began:.0f}s, all closed after {time.monotonic() - began:.0f}s; "
        f"gateway asked {sum(asked.values())} times ({max(asked.values())} at most for one); "
        f"{resends} email resends; {cases} audit chains intact"
    )
