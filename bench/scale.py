"""`make bench-scale`: the end-of-term rush standing still — refunds open and awaiting review and
complaints with running SLA timers, 20,000 of each by default, on one dev server.

Starts the system as `make bench` does (bench/workflows.py), then:

1. load  refunds asked and complaints filed through the HTTP API, taking turns, at most `--at-once`
         requests in flight; nobody reviews. The complaints' SLA has the first response due within
         minutes, so its warning and breach timers fire while the load goes on, and the resolution
         due in days, so those timers are still running at the end. At every `--step` workflows
         opened: the processes' resident memory and the review queue's latency so far (one reviewer
         opening the queue all along).
2. hold  everything open at once: reviewers open the queue for `--hold-seconds`, and the last
         complaints' first-response timers fire.

Then Temporal's own visibility is asked how many refunds await review and how many complaints are
running, and a sample of complaint histories tells how late their timers fired. Writes the figures
to docs/benchmarks.md (between its `bench:scale` markers) and to a JSON file under .data/bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select
from temporalio.client import WorkflowHistory

from bench.measure import Latencies, ProcessSampler, machine_summary, rss_mib
from bench.results import add_settings_option, keep
from bench.scale_report import GOAL_BREACH_LATENESS_SECONDS, section
from bench.traffic import (
    POLL_SECONDS,
    Errors,
    StudentsAsking,
    enrol,
    file_complaint,
    login,
    read_review_queue,
    set_complaint_sla,
)
from bench.traffic import Students as Enrolled
from bench.workflows import complaint_histories, timer_lateness
from db.migrate import upgrade
from db.models import AuditEvent, Complaint, Refund
from devstack.system import System, running_system
from domain.complaints import ComplaintStage
from domain.refunds import RefundStatus
from domain.sla_events import BREACHED, FIRST_RESPONSE, complaint_sla_event
from domain.timeutil import as_utc
from integrations import temporal

MARKERS = ("<!-- bench:scale -->", "<!-- /bench:scale -->")
ORDERS_EACH = 20  # refunds per student (fewer sign-ins to set up)
RESOLUTION_MINUTES = 7 * 24 * 60  # still running when the bench ends
READY_TIMEOUT_SECONDS = 1800
BACKLOG_POLL_SECONDS = 0.5
FIRST_RESPONSE_BREACHED = complaint_sla_event(FIRST_RESPONSE, BREACHED)
# The activity that writes a first-response breach to the database, by its summary in the history.
BREACH_RECORD = f"Record {FIRST_RESPONSE_BREACHED}"


class Growth:
    """What the load did to the system, taken every `step` workflows opened: elapsed time, each
    process's RSS, and the review queue's latency over the step."""

    def __init__(self, processes: ProcessSampler, step: int) -> None:
        self.processes = processes
        self.step = step
        self.opened = 0
        self.began = time.monotonic()
        self.queue = Latencies()
        self.rows: list[dict[str, Any]] = []

    def opened_one(self) -> None:
        self.opened += 1
        if self.opened % self.step == 0:
            self.rows.append(
                {
                    "opened": self.opened,
                    "seconds": round(time.monotonic() - self.began, 1),
                    "rss_mib": {
                        name: round(mib, 1)
                        for name, pid in self.processes.pids.items()
                        if (mib := rss_mib(pid)) is not None
                    },
                    "review_queue": self.queue.summary(),
                }
            )
            row = self.rows[-1]
            # Everything a reading holds, so that a run stopped before its end still tells its story.
            print(
                f"bench: {self.opened:,} opened at {row['seconds']:.0f}s, RSS {row['rss_mib']} MiB,"
                f" review queue {row['review_queue']}",
                flush=True,
            )
            self.queue = Latencies()


def waiting_now(system: System) -> int:
    """Refunds awaiting review plus complaints assigned (their clocks running), as the database the
    API reads has them."""
    with system.sessions() as session:
        refunds = session.exec(
            select(func.count()).where(Refund.status == RefundStatus.AWAITING_REVIEW.value)
        ).one()
        complaints = session.exec(
            select(func.count()).where(Complaint.stage == ComplaintStage.ASSIGNED.value)
        ).one()
    return refunds + complaints


class Backlog:
    """Keeps at most `limit` workflows asked for but not yet waiting: the load goes at the pace the
    system takes it. Asked faster, workflows queue inside Temporal, and a complaint whose clocks
    start late finds its first response already overdue — its timers would never be measured."""

    def __init__(self, system: System, limit: int) -> None:
        self.system = system
        self.limit = limit
        self.asked = 0
        self.waiting = 0
        self.baseline = waiting_now(system)  # the demo data's own

    async def room(self) -> None:
        """Until fewer than `limit` are on their way."""
        while self.asked - self.waiting >= self.limit:
            await asyncio.sleep(BACKLOG_POLL_SECONDS)
            self.waiting = await asyncio.to_thread(waiting_now, self.system) - self.baseline
        self.asked += 1


async def load(
    system: System, args: argparse.Namespace, enrolled: Enrolled, growth: Growth, errors: Errors
) -> list[str]:
    """Refunds and complaints, taking turns, at most `at_once` in flight; the complaint ids."""
    students = StudentsAsking(system, errors)
    complainants = list(enrolled.headers.values())
    complaint_ids: list[str] = []
    in_flight = asyncio.Semaphore(args.at_once)
    reading = asyncio.Event()

    async def refund(n: int) -> None:
        async with in_flight:
            await students.ask(enrolled.journeys[n])
        growth.opened_one()

    async def complaint(n: int) -> None:
        async with in_flight:
            complaint_id = await file_complaint(system, complainants[n % len(complainants)], errors)
        if complaint_id:
            complaint_ids.append(complaint_id)
        growth.opened_one()

    async def reviewer_watching(headers: dict[str, str]) -> None:
        while not reading.is_set():
            await read_review_queue(system, headers, growth.queue, errors)
            await asyncio.sleep(1)

    backlog = Backlog(system, args.backlog)
    reviewer = await login(system, "lead@demo")
    watching = asyncio.create_task(reviewer_watching(reviewer))
    try:
        async with asyncio.TaskGroup() as opening:
            for n in range(max(args.refunds, args.complaints)):
                for wanted, ask in ((args.refunds, refund), (args.complaints, complaint)):
                    if n < wanted:
                        await backlog.room()
                        opening.create_task(ask(n))
    finally:
        reading.set()
        await watching
    return complaint_ids


async def until_waiting(system: System, refunds: int, complaints: int) -> dict[str, int]:
    """Until Temporal's visibility shows every refund awaiting review and every complaint assigned
    (or further: a breached first response leaves it assigned); the counts it showed."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    queries = {
        "refunds awaiting review": "WorkflowType='RefundWorkflow' AND RefundStatus='awaiting_review'",
        "complaints running": "WorkflowType='ComplaintWorkflow' AND ExecutionStatus='Running'",
        "complaints assigned": "WorkflowType='ComplaintWorkflow' AND ComplaintStage='assigned'",
    }
    while True:
        counts = {what: (await system.temporal.count_workflows(q)).count for what, q in queries.items()}
        if counts["refunds awaiting review"] >= refunds and counts["complaints assigned"] >= complaints:
            return counts
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: not all open and waiting within {READY_TIMEOUT_SECONDS}s: {counts}")
        await asyncio.sleep(5)


async def hold(system: System, args: argparse.Namespace, until: float, errors: Errors) -> Latencies:
    """Reviewers opening the queue, one page every POLL_SECONDS each, until the monotonic `until`."""
    latency = Latencies()
    headers = await login(system, "lead@demo")

    async def reviewer() -> None:
        while time.monotonic() < until:
            await read_review_queue(system, headers, latency, errors)
            await asyncio.sleep(POLL_SECONDS)

    await asyncio.gather(*(reviewer() for _ in range(args.reviewers)))
    return latency


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="aftercare-bench-scale-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'aftercare.db'}"
    upgrade(database_url)
    overrides = dict(args.set)
    async with running_system(data_dir, database_url, **overrides) as system:
        print(f"bench: enrolling students for {args.refunds} refunds", flush=True)
        students = await enrol(
            system,
            students=max(-(-args.refunds // ORDERS_EACH), 1),
            orders_each=ORDERS_EACH,
            rng=random.Random(args.seed),
        )
        admin = await login(system, "admin@demo")
        await set_complaint_sla(
            system,
            admin,
            first_response_minutes=args.first_response_minutes,
            resolution_minutes=RESOLUTION_MINUTES,
        )
        processes = ProcessSampler(
            {
                "worker": system.worker.pid,
                "temporal server": system.temporal_server.pid,
                "api": system.api_process.pid,
                "bench (driver)": os.getpid(),
            }
        )
        errors = Errors()
        growth = Growth(processes, args.step)
        async with processes.sampling():
            print(f"bench: load, {args.refunds} refunds and {args.complaints} complaints", flush=True)
            with processes.phase("load"):
                complaint_ids = await load(system, args, students, growth, errors)
                asked_seconds = time.monotonic() - growth.began
                counts = await until_waiting(system, args.refunds, len(complaint_ids))
                open_seconds = time.monotonic() - growth.began
            print(f"bench: all open after {open_seconds:.0f}s; holding", flush=True)
            # The last complaint's first-response breach falls due that long after it was filed.
            last_breach = growth.began + asked_seconds + args.first_response_minutes * 60
            held_until = max(time.monotonic() + args.hold_seconds, last_breach + 30)
            with processes.phase("hold"):
                held_from = time.monotonic()
                queue = await hold(system, args, held_until, errors)
                held_seconds = time.monotonic() - held_from
        sampled = complaint_ids[:: max(len(complaint_ids) // args.timer_sample, 1)][: args.timer_sample]
        sampled_histories = await complaint_histories(system.temporal, sampled)
        timers = timer_lateness(sampled_histories)
        histories = read_sampled_histories(system, sampled, sampled_histories)
        decided = breaches_decided(system)
        settings = system.settings
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_summary(),
            "settings": {
                "refunds": args.refunds,
                "complaints": args.complaints,
                "at_once": args.at_once,
                "backlog": args.backlog,
                "reviewers": args.reviewers,
                "first_response_minutes": args.first_response_minutes,
                "worker_max_cached_workflows": settings.worker_max_cached_workflows,
                "worker_activity_slots": settings.worker_activity_slots,
                "database": database_url.split(":")[0],
            },
            "load": {
                "asked_seconds": asked_seconds,
                "open_seconds": open_seconds,
                "per_second": (args.refunds + len(complaint_ids)) / open_seconds,
                "growth": growth.rows,
            },
            "open": counts,
            "hold": {"seconds": held_seconds, "review_queue": queue.summary()},
            "timer_lateness": {"complaints_sampled": len(sampled), **timers.summary()},
            "breach_lateness": histories.breach_lateness.summary(),
            "breach_decided_lateness": {
                **decided.summary(),
                "over_goal": sum(late > GOAL_BREACH_LATENESS_SECONDS for late in decided.values),
            },
            "workflow_task_timeouts": histories.workflow_task_timeouts,
            "rss_mib": processes.rss_summary(),
            "cpu_seconds": processes.cpu,
            "errors": dict(errors.counts),
            "error_examples": errors.examples,
        }  # fmt: skip


def breaches_decided(system: System) -> Latencies:
    """How long after the first response fell due every complaint's breach was decided: the time its
    audit event carries, which the workflow stamps when the timer has woken it and the task has run —
    before the record activity writes it (`read_sampled_histories` times that, for a sample)."""
    with system.sessions() as session:
        rows = session.exec(
            select(AuditEvent.at, Complaint.first_response_due_at)
            .join(Complaint, col(Complaint.id) == col(AuditEvent.case_id))
            .where(AuditEvent.case_type == "complaint", AuditEvent.event == FIRST_RESPONSE_BREACHED)
        ).all()
    return Latencies((as_utc(at) - as_utc(due)).total_seconds() for at, due in rows if due is not None)


@dataclass
class SampledHistories:
    breach_lateness: Latencies
    # Workflow tasks the worker held past their start-to-close timeout, which the server then gave out
    # again: a worker taking tasks faster than its one core (the GIL) runs them.
    workflow_task_timeouts: int = 0


def read_sampled_histories(
    system: System, complaint_ids: list[str], histories: list[WorkflowHistory]
) -> SampledHistories:
    """How long after the first response fell due each complaint's breach was in the database — its
    record activity's completion in the history against the due time the complaints table holds — and
    how many workflow tasks timed out. The timer can fire on time while the breach lags, if the task
    it wakes or the record waits behind other work."""
    with system.sessions() as session:
        rows = session.exec(
            select(Complaint.id, Complaint.first_response_due_at).where(col(Complaint.id).in_(complaint_ids))
        ).all()
    due = {complaint_id: as_utc(at) for complaint_id, at in rows if at}
    read = SampledHistories(Latencies())
    for complaint_id, history in zip(complaint_ids, histories, strict=True):
        breach_records: set[int] = set()
        for event in history.events:
            if event.HasField("activity_task_scheduled_event_attributes"):
                if json.loads(event.user_metadata.summary.data or b'""') == BREACH_RECORD:
                    breach_records.add(event.event_id)
            elif (
                event.HasField("activity_task_completed_event_attributes")
                and event.activity_task_completed_event_attributes.scheduled_event_id in breach_records
            ):
                recorded = event.event_time.ToDatetime(UTC)
                read.breach_lateness.add((recorded - due[complaint_id]).total_seconds())
            elif event.HasField("workflow_task_timed_out_event_attributes"):
                read.workflow_task_timeouts += 1
    return read


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refunds", type=int, default=20_000, help="refunds left awaiting review")
    parser.add_argument("--complaints", type=int, default=20_000, help="complaints with SLA timers")
    parser.add_argument("--at-once", type=int, default=16, help="requests in flight while loading")
    parser.add_argument(
        "--backlog", type=int, default=48, help="workflows asked for but not yet waiting, at most"
    )
    parser.add_argument("--reviewers", type=int, default=4, help="reviewers opening the queue in the hold")
    parser.add_argument("--step", type=int, default=2_000, help="workflows opened between two readings")
    parser.add_argument("--hold-seconds", type=float, default=120)
    parser.add_argument(
        "--first-response-minutes", type=int, default=3, help="the complaints' first response SLA"
    )
    parser.add_argument("--timer-sample", type=int, default=400, help="complaint histories read for timers")
    parser.add_argument("--database-url", default="", help="default: SQLite in a fresh directory")
    parser.add_argument("--seed", type=int, default=20261203)
    add_settings_option(parser, "worker_max_cached_workflows=500")
    parser.add_argument("--no-doc", action="store_true", help="write the JSON only, not docs/benchmarks.md")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    result = asyncio.run(run(args))
    keep(result, "scale", None if args.no_doc else (MARKERS, section(result)))
    temporal.exit_skipping_teardown(0)


if __name__ == "__main__":
    main()
