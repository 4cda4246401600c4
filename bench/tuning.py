"""`make bench-tuning`: each worker, database and dev-server setting the workflow bench can vary, run
alone against the defaults — the same refunds at max rate (`python -m bench.workflows
--max-rate-only`), one fresh system per run — and its measured effect written to docs/benchmarks.md
(between its `bench:tuning` markers). About 2 minutes a run at the default 300 refunds on 2 cores.

    python -m bench.tuning [--refunds 300] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from bench.results import BENCHMARKS_DOC, RESULTS_DIR
from bench.workflows_report import row, write_section
from settings import PROJECT_ROOT

MARKERS = ("<!-- bench:tuning -->", "<!-- /bench:tuning -->")

# name → (what it tries, bench.workflows arguments)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "defaults": ("the settings as shipped", []),
    "small sticky cache": (
        "`worker_max_cached_workflows=10`: far fewer than the refunds open at once, so most workflow "
        "tasks replay their history first",
        ["--set", "worker_max_cached_workflows=10"],
    ),
    "4 activity slots": ("`worker_activity_slots=4`", ["--set", "worker_activity_slots=4"]),
    "48 activity slots": (
        "`worker_activity_slots=48` with a pool to match (`database_pool_size=48`)",
        ["--set", "worker_activity_slots=48", "--set", "database_pool_size=48"],
    ),
    "100 workflow task slots": (
        "`worker_workflow_task_slots=100`, the SDK's default, instead of 8: the worker takes more "
        "workflow tasks at once than its one core can run before their 10 s timeout under load",
        ["--set", "worker_workflow_task_slots=100"],
    ),
    "2 pollers each": (
        "`worker_workflow_pollers=2`, `worker_activity_pollers=2`",
        ["--set", "worker_workflow_pollers=2", "--set", "worker_activity_pollers=2"],
    ),
    "no sandbox passthrough": (
        "`worker_sandbox_passthrough=false`: every workflow run imports our modules afresh",
        ["--set", "worker_sandbox_passthrough=false"],
    ),
    "one database connection": (
        "`database_pool_size=1`, `database_max_overflow=0`: activities queue for it",
        ["--set", "database_pool_size=1", "--set", "database_max_overflow=0"],
    ),
    "app database synchronous=normal": (
        "our SQLite database syncing its WAL at checkpoints only (`database_sqlite_synchronous=NORMAL`, "
        "the default before 2026-12-05; db/engine.py keeps `FULL`, durable at every commit)",
        ["--set", "database_sqlite_synchronous=NORMAL"],
    ),
    "app database rollback journal": (
        "our SQLite database on SQLite's own defaults, a rollback journal synced at every commit "
        "(`database_sqlite_journal_mode=DELETE`, `database_sqlite_synchronous=FULL`): readers and the "
        "writer take turns",
        ["--set", "database_sqlite_journal_mode=DELETE", "--set", "database_sqlite_synchronous=FULL"],
    ),
    "four task-queue partitions": (
        "the dev server's default of four partitions per task queue (temporal-dev.yml keeps one, so "
        "that deadline work's priority holds across the whole backlog)",
        [
            "--temporal-config",
            "matching.numTaskqueueReadPartitions=4",
            "--temporal-config",
            "matching.numTaskqueueWritePartitions=4",
        ],
    ),
    "dev server synchronous=off": (
        "the dev server's SQLite without fsync (temporal-dev.yml keeps `synchronous=normal`)",
        ["--temporal-pragma", "synchronous=off"],
    ),
    "defaults, again": (
        "the settings as shipped, once more at the end: how far two runs of the same settings differ",
        [],
    ),
}


def run_variant(args: list[str], refunds: int) -> dict[str, Any]:
    before = set(RESULTS_DIR.glob("workflows-*.json"))
    subprocess.run(
        [sys.executable, "-m", "bench.workflows", "--max-rate-only", "--refunds", str(refunds), *args],
        cwd=PROJECT_ROOT,
        check=True,
    )
    (written,) = set(RESULTS_DIR.glob("workflows-*.json")) - before
    return json.loads(written.read_text())


def section(results: dict[str, dict[str, Any]], refunds: int) -> str:
    base = results.get("defaults")
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench-tuning`: {refunds} refunds at max rate "
        "per run, each on a freshly started system; one setting changed at a time.",
        "",
        row("Variant", "what changed", "refunds/s", "vs defaults", "worker CPU/refund", "server CPU/refund",
             "worker RSS peak", "errors"),
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for name, result in results.items():
        rate = result["max_rate"]["per_second"]
        cpu = result["cpu_seconds"]["max rate"]
        n = result["max_rate"]["refunds"]
        change = (
            f"{(rate / base['max_rate']['per_second'] - 1) * 100:+.0f}%"
            if base and name != "defaults"
            else ""
        )
        lines.append(
            row(
                name,
                VARIANTS[name][0],
                f"{rate:.2f}",
                change,
                f"{cpu.get('worker', 0) / n * 1000:,.0f} ms",
                f"{cpu.get('temporal server', 0) / n * 1000:,.0f} ms",
                f"{result['rss_mib']['max rate']['worker']['peak']:,.0f} MiB",
                sum(result["max_rate"]["errors"].values()),
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refunds", type=int, default=300)
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), help="these variants (default: all)")
    options = parser.parse_args()
    results = {}
    for name in options.only or VARIANTS:
        print(f"bench-tuning: {name}", flush=True)
        results[name] = run_variant(VARIANTS[name][1], options.refunds)
        print(f"bench-tuning: {name}: {results[name]['max_rate']['per_second']:.2f} refunds/s", flush=True)
    text = section(results, options.refunds)
    print(text)
    write_section(BENCHMARKS_DOC, MARKERS, text)


if __name__ == "__main__":
    main()
