"""The reports benchmark: do the monthly reports answer in under 2 seconds over 200,000 refunds,
200,000 complaints and 2,000,000 audit events, on SQLite and on PostgreSQL?

    python -m bench.reports                                   full scale, SQLite only
    python -m bench.reports --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python -m bench.reports --scale 0.01                      a quick run (docs left alone)

It makes the data (bench/dataset.py), loads it into a fresh database of each kind migrated by our
migrations (bench/databases.py), starts the API with uvicorn on that database, signs in as a lead
and times each endpoint through real HTTP: a cold first request per month, then warm runs. The
figure judged is the slowest warm run; cold is shown beside it. An endpoint not merged yet (404)
is reported as missing. One case's `python -m db.audit_log verify` and a full pass over every
chain are timed too (reported, not judged). At full scale the results replace the reports
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy

from bench import databases
from bench.dataset import LOGINS, PASSWORD, Dataset, Volumes, generate
from db.engine import SessionFactory, build_engine
from domain.report_month import ReportMonth
from domain.roles import Role
from settings import PROJECT_ROOT

GOAL_SECONDS = 2.0
DEFAULT_SEED = 20_261_123
DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:reports -->", "<!-- /bench:reports -->"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # with {month} or {case}
    judged: bool = True  # held to the 2-second goal


REPORTS = (
    Endpoint("refund report", "/api/reports/refunds?month={month}"),
    Endpoint("refund report, CSV", "/api/reports/refunds.csv?month={month}"),
    Endpoint("complaint report", "/api/reports/complaints?month={month}"),
    Endpoint("complaint report, CSV", "/api/reports/complaints.csv?month={month}"),
)
# A case's page (projection, timeline, notices), and its audit trail, which re-verifies the chain.
REFUND_TIMELINES = (
    Endpoint("refund with its timeline", "/api/refunds/{case}"),
    Endpoint("refund audit trail", "/api/refunds/{case}/timeline"),
)
COMPLAINT_TIMELINES = (
    Endpoint("complaint with its timeline", "/api/complaints/{case}"),
    Endpoint("complaint audit trail", "/api/complaints/{case}/timeline"),
)


@dataclass
class Timing:
    """One row of the results: an endpoint (or command) over its months or cases."""

    name: str
    over: str  # what it was asked for: months, cases
    cold: list[float] = field(default_factory=list)  # the first request for each month / case
    warm: list[float] = field(default_factory=list)
    judged: bool = True
    state: str = "ok"  # ok | missing | an error's description
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.state == "missing":
            return "missing"
        if self.state != "ok":
            return "ERROR"
        if not self.judged:
            return "reported"
        return "PASS" if self.warm and max(self.warm) < GOAL_SECONDS else "FAIL"

    def cells(self) -> tuple[str, str, str]:
        """cold (the slowest first request), warm median, warm max."""
        if self.state != "ok":
            return ("—", "—", "—")
        cold = seconds(max(self.cold)) if self.cold else "—"
        if not self.warm:
            return (cold, "—", "—")
        return (cold, seconds(statistics.median(self.warm)), seconds(max(self.warm)))


@dataclass
class DatabaseRun:
    kind: str
    label: str
    version: str = ""
    not_measured: str | None = None  # why, when it was not
    migrate: float = 0.0
    load: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    timings: list[Timing] = field(default_factory=list)


def seconds(value: float) -> str:
    if value < 0.1:
        return f"{value * 1000:.0f} ms"
    if value < 100:
        return f"{value:.2f} s"
    return f"{value:.0f} s"


# --- the API in its own process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def api_server(database_url: str, workdir: Path) -> Iterator[str]:
    """uvicorn serving api.app on the database, on a free loopback port; its base URL. Temporal is
    not started: the API's client is lazy and the endpoints timed here only read the database."""
    port = free_port()
    env = {**os.environ, "AFTERCARE_DATABASE_URL": database_url, "AFTERCARE_DATA_DIR": str(workdir)}
    log_path = workdir / f"api-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited ({process.returncode}): {log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                # Not /healthz: it asks Temporal, which is not running here.
                if httpx.get(f"{base}/openapi.json", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start within 60 s: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": email, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _route_missing(response: httpx.Response) -> bool:
    """FastAPI's answer for a path no route matches (not a route's own 404 about a missing row)."""
    if response.status_code != 404:
        return False
    with contextlib.suppress(ValueError):
        return response.json() == {"detail": "Not Found"}
    return False


def time_endpoint(
    client: httpx.Client, tokens: dict[Role, dict[str, str]], endpoint: Endpoint, values: list[str], runs: int
) -> Timing:
    """A cold request then `runs` warm ones for each value (month or case id), as a lead — or as
    an admin, should the route be for admins only."""
    field_name = "month" if "{month}" in endpoint.path else "case"
    timing = Timing(endpoint.name, f"{len(values)} {field_name}s", judged=endpoint.judged)
    roles = [Role.LEAD, Role.ADMIN]
    for value in values:
        path = endpoint.path.format(**{field_name: value})
        for run in range(runs + 1):
            started = time.perf_counter()
            response = client.get(path, headers=tokens[roles[0]])
            elapsed = time.perf_counter() - started
            if response.status_code == 403 and len(roles) > 1:
                roles.pop(0)  # not for leads: time it as an admin from here on
                timing.note = f"as {roles[0].value}"
                started = time.perf_counter()
                response = client.get(path, headers=tokens[roles[0]])
                elapsed = time.perf_counter() - started
            if _route_missing(response):
                timing.state = "missing"
                return timing
            if response.status_code != 200:
                timing.state = f"HTTP {response.status_code} for {path}: {response.text[:200]}"
                return timing
            (timing.warm if run else timing.cold).append(elapsed)
    return timing


# --- audit chain verification --------------------------------------------------------------------


def time_verify_case(database_url: str, case: str, runs: int) -> list[Timing]:
    """The operator's command for one case (a Python start-up included), and the same check
    in-process (db.audit_log.verify_case), to tell the two costs apart."""
    from db.audit_log import verify_case

    command = Timing("verify one case: python -m db.audit_log verify --case", case, judged=False)
    env = {**os.environ, "AFTERCARE_DATABASE_URL": database_url}
    for run in range(runs + 1):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "db.audit_log", "verify", "--case", case],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        if result.returncode != 0 or "chain intact" not in result.stdout:
            command.state = f"exit {result.returncode}: {(result.stdout + result.stderr).strip()[-300:]}"
            break
        (command.warm if run else command.cold).append(elapsed)

    in_process = Timing("verify one case: db.audit_log.verify_case", case, judged=False)
    engine = build_engine(database_url)
    try:
        sessions = SessionFactory(engine)
        case_type, _, case_id = case.partition(":")
        for run in range(runs + 1):
            started = time.perf_counter()
            with sessions() as session:
                verdict = verify_case(session, case_type, case_id)
            elapsed = time.perf_counter() - started
            if verdict.broken is not None or verdict.events == 0:
                in_process.state = verdict.line()
                break
            (in_process.warm if run else in_process.cold).append(elapsed)
    finally:
        engine.dispose()
    return [command, in_process]


def time_verify_all(database_url: str, expected_events: int, limit: float) -> Timing:
    """`python -m db.audit_log verify` over every chain, once; stopped after `limit` seconds."""
    timing = Timing("verify every chain: python -m db.audit_log verify", "all cases", judged=False)
    env = {**os.environ, "AFTERCARE_DATABASE_URL": database_url}
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "db.audit_log", "verify"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=limit,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        timing.state = f"stopped after {limit:.0f} s"
        return timing
    elapsed = time.perf_counter() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    match = re.match(r"(\d+) cases, (\d+) events, 0 tampered", summary)
    if result.returncode != 0 or match is None or int(match.group(2)) != expected_events:
        timing.state = f"exit {result.returncode}: {summary}"
        return timing
    timing.cold.append(elapsed)
    timing.note = summary
    return timing


# --- one database --------------------------------------------------------------------------------


def count_rows(database_url: str, tables: list[str]) -> dict[str, int]:
    engine = build_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
                for table in tables
            }
    finally:
        engine.dispose()


def measure(
    database: databases.BenchDatabase,
    run: DatabaseRun,
    dataset: Dataset,
    args: argparse.Namespace,
    workdir: Path,
) -> None:
    say(f"[{run.label}] migrating a fresh database")
    started = time.perf_counter()
    databases.migrate(database)
    run.migrate = time.perf_counter() - started

    say(f"[{run.label}] loading {dataset.count('audit_events'):,} audit events and the rest")
    run.load = databases.load(database, dataset)
    say(f"[{run.label}] loaded in {seconds(sum(run.load.values()))}: " + load_summary(run.load))
    run.rows = count_rows(database.url, list(dataset.tables))
    wrong = {table: n for table, n in run.rows.items() if n != dataset.count(table)}
    if wrong:
        raise RuntimeError(f"{run.label}: rows missing after the load: {wrong}")

    months = sample_months(dataset.months, args.months)
    with api_server(database.url, workdir) as base, httpx.Client(base_url=base, timeout=300) as client:
        tokens = {role: sign_in(client, email) for role, email in LOGINS.items()}
        for endpoint in REPORTS:
            say(f"[{run.label}] {endpoint.name}: {', '.join(months)}")
            run.timings.append(time_endpoint(client, tokens, endpoint, months, args.runs))
            say(f"[{run.label}]   {row_text(run.timings[-1])}")
        for endpoint, cases in (
            *((endpoint, dataset.sample_refund_ids) for endpoint in REFUND_TIMELINES),
            *((endpoint, dataset.sample_complaint_ids) for endpoint in COMPLAINT_TIMELINES),
        ):
            say(f"[{run.label}] {endpoint.name}: {', '.join(cases)}")
            run.timings.append(time_endpoint(client, tokens, endpoint, cases, args.runs))
            say(f"[{run.label}]   {row_text(run.timings[-1])}")
    say(f"[{run.label}] verifying one case's chain")
    run.timings.extend(time_verify_case(database.url, f"refund:{dataset.sample_refund_ids[0]}", args.runs))
    say(f"[{run.label}] verifying every chain (stopped after {args.verify_limit:.0f} s)")
    run.timings.append(time_verify_all(database.url, dataset.count("audit_events"), args.verify_limit))
    say(f"[{run.label}]   {row_text(run.timings[-1])}")


def sample_months(months: list[ReportMonth], count: int) -> list[str]:
    """The newest month (the busiest: the school grew), the oldest, and evenly between."""
    if count >= len(months):
        return [str(month) for month in months]
    if count == 1:
        return [str(months[-1])]
    step = (len(months) - 1) / (count - 1)
    picked = [months[len(months) - 1 - round(index * step)] for index in range(count)]
    return [str(month) for month in dict.fromkeys(picked)]


def load_summary(load: dict[str, float]) -> str:
    main = ("orders", "refunds", "complaints", "audit_events", "settle")
    return ", ".join(f"{table} {seconds(load[table])}" for table in main if table in load)


# --- output --------------------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, flush=True)


def row_text(timing: Timing) -> str:
    cold, median, worst = timing.cells()
    state = "" if timing.state in ("ok", "missing") else f"  ({timing.state})"
    note = f"  [{timing.note}]" if timing.note else ""
    figures = f"cold {cold:>8}  warm median {median:>8}  max {worst:>8}"
    return f"{timing.name:<55} {figures}  {timing.verdict}{state}{note}"


@dataclass
class Report:
    started: datetime
    args: argparse.Namespace
    dataset: Dataset
    generate_seconds: float
    runs: list[DatabaseRun]
    machine: dict[str, str]
    total_seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(t.verdict in ("FAIL", "ERROR") for run in self.runs for t in run.timings)


def machine_facts() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "load": "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
    }


def markdown(report: Report) -> str:
    dataset, machine = report.dataset, report.machine
    months = dataset.months
    lines = [
        BEGIN,
        "## Reports over 200k refunds, 200k complaints, 2M audit events",
        "",
        f"Measured {report.started:%Y-%m-%d %H:%M} UTC by `make bench-reports` (`python -m bench.reports "
        f"--scale {report.args.scale:g}`; seed {report.args.seed}; data for {months[0]} … {months[-1]}). "
        "Goal, from the issue: each report answers in under 2 s. Every figure is a real HTTP request to "
        "uvicorn on the loopback, signed in as a lead; **judged on the slowest warm run** (warm: the "
        f"{report.args.runs} requests after the first for a month); cold is the slowest first request "
        "for a month in a freshly started API process, the database having just been loaded.",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']} RAM; load average "
        f"{machine['load']} at the start, {machine.get('load_end', '?')} at the end (other work on the "
        "machine slows every figure).",
        f"- Versions: Python {machine['python']}, SQLite {machine['sqlite']}, "
        + "".join(
            f"PostgreSQL server {run.version}, "
            for run in report.runs
            if run.kind == "postgresql" and run.version
        )
        + f"SQLAlchemy {machine['sqlalchemy']}.",
        f"- Whole run (generate once, then per database: migrate, load, time): "
        f"{report.total_seconds / 60:.1f} min; generating the data took {seconds(report.generate_seconds)}.",
        "",
        "| rows | count |",
        "|---|---:|",
    ]
    for table in (
        "users",
        "courses",
        "orders",
        "refunds",
        "complaints",
        "improvement_actions",
        "audit_events",
    ):
        lines.append(f"| {table} | {dataset.count(table):,} |")
    measured = [run for run in report.runs if run.not_measured is None]
    if measured:
        lines += ["", "| load | " + " | ".join(run.label for run in measured) + " |"]
        lines.append("|---|" + "---:|" * len(measured))
        lines.append(
            "| migrate (Alembic, empty) | " + " | ".join(seconds(run.migrate) for run in measured) + " |"
        )
        for table in ("orders", "refunds", "complaints", "audit_events"):
            lines.append(
                f"| insert {table} | " + " | ".join(seconds(run.load[table]) for run in measured) + " |"
            )
        lines.append(
            "| insert, all tables | "
            + " | ".join(seconds(sum(v for k, v in run.load.items() if k != "settle")) for run in measured)
            + " |"
        )
        lines.append(
            "| settle (SQLite: WAL checkpoint; PostgreSQL: VACUUM ANALYZE) | "
            + " | ".join(seconds(run.load["settle"]) for run in measured)
            + " |"
        )
    for run in report.runs:
        lines += ["", f"### {run.label}", ""]
        if run.not_measured is not None:
            lines.append(f"**Not measured**: {run.not_measured}")
            continue
        lines += [f"Reports against the 2 s goal: {goal_summary(run)}.", ""]
        lines += [
            "| endpoint | over | cold | warm median | warm max | 2 s goal |",
            "|---|---|---:|---:|---:|---|",
        ]
        for timing in run.timings:
            cold, median, worst = timing.cells()
            verdict = f"**{timing.verdict}**" if timing.verdict in ("FAIL", "ERROR") else timing.verdict
            extra = f" ({timing.note})" if timing.note else ""
            if timing.state not in ("ok", "missing"):
                extra += f" ({timing.state})"
            lines.append(
                f"| {timing.name}{extra} | {timing.over} | {cold} | {median} | {worst} | {verdict} |"
            )
    lines += [
        "",
        "Notes:",
        "",
        "- *missing*: the route answered 404 (not merged when this was measured).",
        "- The audit chains hold the issue's volume, 5 events per case on average: each case's whole "
        "lifecycle sets its projection row (so months are mostly settled and recent cases open), and "
        "its chain keeps its first steps — a complaint's full SOP is ~9 steps, more than 2M events over "
        "400k cases hold. Every chain verifies.",
        "- SQLite is timed as loaded, without ANALYZE (nothing in the application runs it). PostgreSQL "
        "is timed after VACUUM ANALYZE, which autovacuum would run soon after such a load anyway.",
        "- The one-case `verify` command includes starting Python and importing the application; the "
        "in-process row is the check itself.",
        "- `verify_all` was changed on the benchmark's branch: it paged with an OR of comparisons, so "
        "each 5,000-event page scanned the (case, seq) index from the top — a page a million events "
        "in took 1.73 s on PostgreSQL instead of 0.24 s (SQLite 0.44 s instead of 0.16 s), some ten "
        "more minutes per full pass on PostgreSQL; it pages by a row-value comparison now, and reads "
        "plain rows instead of ORM objects (a third less time).",
        "",
        "Run it: `make bench-reports` (SQLite and the PostgreSQL at `BENCH_POSTGRES_URL`), or "
        "`make bench-reports BENCH_SCALE=0.01` for a quick look that leaves this file alone.",
        END,
    ]
    return "\n".join(lines) + "\n"


def goal_summary(run: DatabaseRun) -> str:
    """The issue's verdict for one database: the four reports, each judged on its slowest warm run."""
    verdicts = Counter(t.verdict for t in run.timings if t.name in {e.name for e in REPORTS})
    if verdicts["FAIL"] or verdicts["ERROR"]:
        return f"**FAIL** ({verdicts['FAIL'] + verdicts['ERROR']} of {len(REPORTS)} over 2 s or in error)"
    if verdicts["missing"]:
        return f"not judged yet: {verdicts['missing']} of {len(REPORTS)} missing, {verdicts['PASS']} PASS"
    return f"PASS (all {len(REPORTS)})"


def write_docs(path: Path, section: str) -> None:
    """Replace the section between its markers, keeping whatever else the file holds."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = "# Benchmarks\n\nFigures measured by the scripts under `bench/`; each owns one section.\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def print_table(report: Report) -> None:
    say("")
    say(f"Reports benchmark, scale {report.args.scale:g}: " + ", ".join(
        f"{table} {report.dataset.count(table):,}" for table in ("refunds", "complaints", "audit_events")
    ))  # fmt: skip
    say(f"generated in {seconds(report.generate_seconds)}; whole run {report.total_seconds / 60:.1f} min")
    for run in report.runs:
        say("")
        if run.not_measured is not None:
            say(f"{run.label}: NOT MEASURED — {run.not_measured}")
            continue
        insert = sum(v for k, v in run.load.items() if k != "settle")
        say(
            f"{run.label} {run.version}: migrate {seconds(run.migrate)}, insert {seconds(insert)} "
            f"({load_summary(run.load)}); reports: {goal_summary(run).replace('**', '')}"
        )
        for timing in run.timings:
            say("  " + row_text(timing))


# --- the run -------------------------------------------------------------------------------------


def previous_month() -> ReportMonth:
    return ReportMonth.of(datetime.now(UTC)).previous()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="volumes times this (1: the issue's)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--end-month", type=ReportMonth.parse, default=None, help="last month of data (default: last month)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or None,
        help="a PostgreSQL server to measure too (env BENCH_POSTGRES_URL); database "
        f"{databases.BENCH_DATABASE} is created there (dropped first: one run per server at a time) "
        "and dropped afterwards",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--months", type=int, default=3, help="report months requested per endpoint")
    parser.add_argument("--runs", type=int, default=5, help="warm requests after the cold one")
    parser.add_argument(
        "--verify-limit", type=float, default=600, help="stop the full verify pass after this many seconds"
    )
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument(
        "--docs", action="store_true", default=None, help="write docs/benchmarks.md at any scale"
    )
    docs.add_argument("--no-docs", dest="docs", action="store_false", help="never write docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the databases (and print where)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock_started = time.perf_counter()
    started = datetime.now(UTC)
    machine = machine_facts()
    end_month = args.end_month or previous_month()

    runs: list[DatabaseRun] = []
    if not args.no_sqlite:
        runs.append(DatabaseRun("sqlite", "SQLite", version=sqlite3.sqlite_version))
    if args.postgres_url:
        postgres = DatabaseRun("postgresql", "PostgreSQL")
        problem = databases.postgres_unreachable(args.postgres_url)
        if problem:
            postgres.not_measured = f"the server at {args.postgres_url} is unreachable ({problem})"
            say(f"PostgreSQL at {args.postgres_url} is unreachable ({problem}): measuring SQLite only.")
        else:
            postgres.version = databases.postgres_server_version(args.postgres_url)
        runs.append(postgres)
    else:
        runs.append(
            DatabaseRun("postgresql", "PostgreSQL", not_measured="no --postgres-url / BENCH_POSTGRES_URL")
        )
    if all(run.not_measured for run in runs):
        say("nothing to measure")
        return 2

    volumes = Volumes.at_scale(args.scale)
    say(
        f"generating {volumes.refunds:,} refunds, {volumes.complaints:,} complaints, "
        f"{volumes.audit_events:,} audit events (seed {args.seed}, up to {end_month})"
    )
    generating = time.perf_counter()
    dataset = generate(volumes, seed=args.seed, end_month=end_month)
    generate_seconds = time.perf_counter() - generating
    say(f"generated in {seconds(generate_seconds)}")

    workdir = Path(tempfile.mkdtemp(prefix="aftercare-bench-"))
    try:
        for run in runs:
            if run.not_measured:
                continue
            if run.kind == "sqlite":
                database = databases.fresh_sqlite(workdir)
            else:
                database = databases.fresh_postgres(args.postgres_url)
            try:
                measure(database, run, dataset, args, workdir)
            finally:
                if run.kind == "postgresql" and not args.keep:
                    databases.drop_postgres(args.postgres_url)
                elif run.kind == "sqlite" and not args.keep:
                    for leftover in workdir.glob("bench.db*"):
                        leftover.unlink()
            if args.keep:
                say(f"[{run.label}] kept: {database.url}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    machine["load_end"] = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    report = Report(started, args, dataset, generate_seconds, runs, machine)
    report.total_seconds = time.perf_counter() - clock_started
    print_table(report)
    write = args.docs if args.docs is not None else args.scale == 1
    if write:
        write_docs(DOCS, markdown(report))
        say(f"\nwrote {DOCS.relative_to(PROJECT_ROOT)}")
    else:
        say(f"\n{DOCS.relative_to(PROJECT_ROOT)} left alone (scale {args.scale:g}; --docs writes it anyway)")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
