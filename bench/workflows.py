"""`make bench`: the whole system under refund-rush load, against the floor Temporal sets.

Starts every piece as its own process, as `make dev` does (file-backed Temporal dev server with
temporal-dev.yml's pragmas, sandbox gateway, dev mailbox, API under uvicorn, worker.py), then:

1. skeleton   N SkeletonWorkflows (bench/skeleton.py: the refund's shape, no work) on their own
              worker process: the refunds-per-second floor of Temporal itself on this machine.
2. max rate   N refunds asked through the HTTP API by students, approved by reviewers working the
              review queue (GET /api/refunds?status=awaiting_review), paid by the sandbox gateway,
              which calls back: refunds completed per second, and its ratio to the skeleton's.
3. half rate  refunds asked at half the max rate, one every 2/rate seconds, alongside complaints
              whose SLA (set to minutes for the run) starts timers: the acknowledgement latency at a
              sustainable rate, and how late the SLA timers fire under that load.

Writes the figures to docs/benchmarks.md (between its `bench:workflows` markers) and to a JSON file
under .data/bench/. Tuning runs pass worker settings: `--set worker_max_cached_workflows=50`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import col, func, select
from temporalio.client import Client, WorkflowHistory

from bench.measure import Latencies, ProcessSampler, machine_summary
from bench.results import add_settings_option, keep, key_value
from bench.skeleton import SkeletonDriver, count, refund_shape
from bench.traffic import (
    POLL_SECONDS,
    Errors,
    Journey,
    Reviewers,
    StudentsAsking,
    complaint_load,
    enrol,
    login,
    set_complaint_sla,
)
from bench.workflows_report import section
from db.migrate import upgrade
from db.models import Complaint, Notification
from devstack.processes import ServiceProcess, aftercare_env
from devstack.system import System, running_system
from devstack.temporal_dev_config import dev_config
from domain.notifications import Channel, NoticeEvent
from integrations import temporal

MARKERS = ("<!-- bench:workflows -->", "<!-- /bench:workflows -->")
ORDERS_EACH = 10  # refunds per student
SLA_MINUTES = (1, 2)  # first response, resolution: timers that fire within the run


def inbox_times(system: System, event: NoticeEvent, refund_ids: list[str]) -> dict[str, float]:
    """refund id → when its inbox notice of `event` was stored (epoch)."""
    with system.sessions() as session:
        rows = session.exec(
            select(Notification.case_id, Notification.created_at).where(
                Notification.event == event.value,
                Notification.channel == Channel.INBOX.value,
                col(Notification.case_id).in_(refund_ids),
            )
        ).all()
    return {case_id: stored.replace(tzinfo=stored.tzinfo or UTC).timestamp() for case_id, stored in rows}


async def until_refunded(system: System, students: StudentsAsking, total: int, within_seconds: float) -> None:
    """Until every refund asked for has its "refunded" notice in the student's inbox (the last thing
    a refund does, after its status says refunded)."""
    deadline = time.monotonic() + within_seconds
    while True:
        asked = list(students.asked_at)
        told = len(inbox_times(system, NoticeEvent.REFUND_SUCCEEDED, asked))
        if len(asked) == total and told == total:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: only {told} of {total} refunds refunded within {within_seconds:.0f}s")
        await asyncio.sleep(POLL_SECONDS)


async def refund_phase(
    system: System, journeys: list[Journey], reviewer: dict[str, str], args: argparse.Namespace, *,
    every_seconds: float | None,
) -> dict[str, Any]:  # fmt: skip
    """Ask for every journey's refund (closed loop, or one every `every_seconds`), review and pay
    them, and measure."""
    errors = Errors()
    students = StudentsAsking(system, errors)
    reviewers = Reviewers(system, reviewer, args.reviewers, errors)
    began = time.time()
    async with asyncio.TaskGroup() as phase:
        reviewing = phase.create_task(reviewers.run())
        if every_seconds is None:
            await students.closed_loop(journeys, args.students_at_once)
        else:
            await students.open_loop(journeys, every_seconds)
        await until_refunded(system, students, len(journeys), args.phase_timeout)
        reviewers.stop()
        await reviewing
    ids = list(students.asked_at)
    acknowledged = inbox_times(system, NoticeEvent.REFUND_RECEIVED, ids)
    refunded = inbox_times(system, NoticeEvent.REFUND_SUCCEEDED, ids)
    last_refunded = max(refunded.values())
    missing_notices = len(ids) - len(acknowledged) + len(ids) - len(refunded)
    if missing_notices:
        errors.add("notice missing", f"{missing_notices} acknowledgements or refunded notices not stored")
    return {
        "refunds": len(ids),
        "seconds": last_refunded - began,
        "per_second": len(ids) / (last_refunded - began),
        "request_answered": students.answer_latency.summary(),
        "request_to_acknowledged": Latencies(
            acknowledged[i] - students.asked_at[i] for i in ids if i in acknowledged
        ).summary(),
        "approval_to_refunded_notice": Latencies(
            refunded[i] - reviewers.approved_at[i]
            for i in ids
            if i in refunded and i in reviewers.approved_at
        ).summary(),
        "review_queue": reviewers.queue_latency.summary(),
        "errors": dict(errors.counts),
        "error_examples": errors.examples,
    }


async def skeleton_phase(system: System, n: int, at_once: int, processes: ProcessSampler) -> dict[str, Any]:
    """n skeleton workflows started at most `at_once` at a time, decided and paid once found waiting
    (bench/skeleton.py SkeletonDriver), on a worker process of their own."""
    task_queue = f"{system.settings.task_queue}-skeleton"
    env = aftercare_env(
        system.settings,
        temporal_address=system.temporal_server.address,
        temporal_namespace=system.temporal_server.namespace,
    )
    worker = ServiceProcess(
        "skeleton worker",
        [sys.executable, "-m", "bench.skeleton", "--task-queue", task_queue],
        env=env,
        log=system.settings.data_dir / "skeleton.log",
    )
    driver = SkeletonDriver(system.temporal, task_queue)

    async def worker_alive() -> None:
        assert worker.process is not None
        await asyncio.to_thread(worker.process.wait)
        raise RuntimeError(f"bench: the skeleton worker stopped:\n{worker.log_tail()}")

    worker.start()
    processes.add("skeleton worker", worker.pid)
    try:
        began = time.time()
        async with asyncio.TaskGroup() as running:
            watching = running.create_task(worker_alive())
            await driver.run(n, at_once, id_prefix="skeleton")
            watching.cancel()
    finally:
        processes.leave("skeleton worker")
        worker.stop()
    seconds = max(driver.finished) - began
    return {
        "workflows": n,
        "seconds": seconds,
        "per_second": len(driver.finished) / seconds,
        "shape": count(refund_shape()).__dict__,
        "errors": dict(driver.errors),
        "error_examples": driver.error_examples,
    }


async def complaint_histories(client: Client, complaint_ids: list[str]) -> list[WorkflowHistory]:
    """The complaints' workflow histories, fetched one after another (no burst on a loaded server)."""
    return [
        await client.get_workflow_handle(f"complaint-{complaint_id}").fetch_history()
        for complaint_id in complaint_ids
    ]


def timer_lateness(histories: list[WorkflowHistory]) -> Latencies:
    """How long after its due time each fired timer in the histories fired."""
    late = Latencies()
    for history in histories:
        due: dict[int, datetime] = {}
        for event in history.events:
            if event.HasField("timer_started_event_attributes"):
                timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
                due[event.event_id] = event.event_time.ToDatetime(UTC) + timeout
            elif event.HasField("timer_fired_event_attributes"):
                started = event.timer_fired_event_attributes.started_event_id
                late.add((event.event_time.ToDatetime(UTC) - due[started]).total_seconds())
    return late


async def until_timers_fired(system: System, complaint_ids: list[str], within_seconds: float) -> None:
    """Until every complaint's resolution deadline has passed and the breach is recorded."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        with system.sessions() as session:
            breached = session.exec(
                select(func.count()).where(
                    col(Complaint.id).in_(complaint_ids),
                    col(Complaint.resolution_due_at) < datetime.now(UTC) - timedelta(seconds=10),
                )
            ).one()
        if breached == len(complaint_ids):
            return
        await asyncio.sleep(2)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="aftercare-bench-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'aftercare.db'}"
    upgrade(database_url)
    overrides = dict(args.set)
    temporal_config = dev_config()
    if args.temporal_pragma:
        pragmas = {**temporal_config.sqlite_pragmas, **dict(args.temporal_pragma)}
        temporal_config = dataclasses.replace(temporal_config, sqlite_pragmas=pragmas)
    if args.temporal_config:
        dynamic = {**temporal_config.dynamic_config, **dict(args.temporal_config)}
        temporal_config = dataclasses.replace(temporal_config, dynamic_config=dynamic)
    async with running_system(data_dir, database_url, temporal_config, **overrides) as system:
        rng = random.Random(args.seed)
        half_rate_refunds = args.half_rate_refunds
        students = await enrol(
            system,
            students=-(-(args.refunds + (0 if args.max_rate_only else half_rate_refunds)) // ORDERS_EACH),
            orders_each=ORDERS_EACH,
            rng=rng,
        )
        reviewer = await login(system, "lead@demo")
        admin = await login(system, "admin@demo")
        processes = ProcessSampler(
            {
                "worker": system.worker.pid,
                "temporal server": system.temporal_server.pid,
                "api": system.api_process.pid,
                "sandbox gateway": system.gateway.pid,
                "dev mailbox": system.mailbox.pid,
                "bench (driver)": os.getpid(),
            }
        )
        setup = {
            **overrides,
            **{f"temporal_sqlite_{k}": v for k, v in args.temporal_pragma},
            **{f"temporal {k}": v for k, v in args.temporal_config},
            "refunds": args.refunds,
            "students_at_once": args.students_at_once,
            "reviewers": args.reviewers,
            "database": database_url.split(":")[0],
        }
        async with processes.sampling():
            if args.max_rate_only:  # a tuning run: one setting's effect on the refunds' own rate
                with processes.phase("max rate"):
                    max_rate = await refund_phase(
                        system, students.journeys, reviewer, args, every_seconds=None
                    )
                return {"settings": setup, "max_rate": max_rate, "cpu_seconds": processes.cpu,
                        "rss_mib": processes.rss_summary()}  # fmt: skip
            print(f"bench: skeleton, {args.refunds} workflows", flush=True)
            with processes.phase("skeleton"):
                skeleton = await skeleton_phase(system, args.refunds, args.students_at_once, processes)
            print(
                f"bench: skeleton {skeleton['per_second']:.2f}/s; max rate, {args.refunds} refunds",
                flush=True,
            )
            journeys = students.journeys[: args.refunds]
            with processes.phase("max rate"):
                max_rate = await refund_phase(system, journeys, reviewer, args, every_seconds=None)
            half = max_rate["per_second"] / 2
            print(
                f"bench: max {max_rate['per_second']:.2f}/s; half rate {half:.2f}/s with complaints",
                flush=True,
            )
            complaint_errors = Errors()
            with processes.phase("half rate"):
                # Complaints spread over the refunds' arrivals: the SLA timers run while they come.
                complaint_every = half_rate_refunds / half / max(args.complaints, 1)
                await set_complaint_sla(
                    system, admin, first_response_minutes=SLA_MINUTES[0], resolution_minutes=SLA_MINUTES[1]
                )
                complaints_task = asyncio.create_task(
                    complaint_load(
                        system, list(students.headers.values()), args.complaints, complaint_errors,
                        complaint_every,
                    )
                )  # fmt: skip
                half_rate = await refund_phase(
                    system, students.journeys[args.refunds :][:half_rate_refunds], reviewer, args,
                    every_seconds=1 / half,
                )  # fmt: skip
                complaint_ids = await complaints_task
                await until_timers_fired(system, complaint_ids, within_seconds=SLA_MINUTES[1] * 60 + 120)
            timers = timer_lateness(await complaint_histories(system.temporal, complaint_ids))
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_summary(),
            "settings": setup,
            "skeleton": skeleton,
            "max_rate": max_rate,
            "ratio": max_rate["per_second"] / skeleton["per_second"],
            "half_rate": {**half_rate, "rate_asked": half},
            "complaints": {
                "filed": len(complaint_ids),
                "timer_lateness": timers.summary(),
                "errors": dict(complaint_errors.counts),
                "error_examples": complaint_errors.examples,
            },
            "rss_mib": processes.rss_summary(),
            "cpu_seconds": processes.cpu,
        }


def dynamic_config_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE with the value as YAML reads it (4 a number, true a bool), as in temporal-dev.yml."""
    key, value = key_value(text)
    return key, yaml.safe_load(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refunds", type=int, default=2000, help="refunds at max rate, and skeletons (N)")
    parser.add_argument("--half-rate-refunds", type=int, help="refunds at half rate (default: half of N)")
    parser.add_argument(
        "--complaints", type=int, default=100, help="complaints with SLA timers (M), at half rate"
    )
    parser.add_argument("--students-at-once", type=int, default=16)
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--phase-timeout", type=float, default=1800)
    parser.add_argument("--database-url", default="", help="default: SQLite in a fresh directory")
    parser.add_argument("--seed", type=int, default=20261202)
    add_settings_option(parser, "worker_max_cached_workflows=50")
    parser.add_argument(
        "--temporal-pragma",
        action="append",
        default=[],
        type=key_value,
        metavar="PRAGMA=VALUE",
        help="a SQLite pragma for the dev server beside temporal-dev.yml's, e.g. synchronous=off",
    )
    parser.add_argument(
        "--temporal-config",
        action="append",
        default=[],
        type=dynamic_config_value,
        metavar="KEY=VALUE",
        help="the dev server's dynamic config over temporal-dev.yml's, e.g. "
        "matching.numTaskqueueReadPartitions=4",
    )
    parser.add_argument(
        "--max-rate-only", action="store_true", help="a tuning run: refunds at max rate, JSON only"
    )
    parser.add_argument("--no-doc", action="store_true", help="write the JSON only, not docs/benchmarks.md")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.half_rate_refunds is None:
        args.half_rate_refunds = max(args.refunds // 2, 1)
    result = asyncio.run(run(args))
    keep(result, "workflows", None if args.no_doc or args.max_rate_only else (MARKERS, section(result)))
    temporal.exit_skipping_teardown(0)


if __name__ == "__main__":
    main()
