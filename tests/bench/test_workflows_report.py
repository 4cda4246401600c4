"""What `make bench` writes: its verdicts against the issue's goals, its percentiles, and the section
of docs/benchmarks.md it replaces (and only that)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.measure import Latencies, ProcessSampler, cpu_seconds
from bench.workflows_report import section, write_section

MARKERS = ("<!-- bench:workflows -->", "<!-- /bench:workflows -->")


def latency(p99: float) -> dict[str, float]:
    return {"count": 10, "p50": p99 / 4, "p95": p99 / 2, "p99": p99, "max": p99, "mean": p99 / 4}


def result(*, ratio: float, ack_p99: float, errors: dict[str, int]) -> dict:
    phase = {
        "refunds": 100,
        "seconds": 50.0,
        "per_second": 2.0,
        "request_answered": latency(0.05),
        "request_to_acknowledged": latency(ack_p99),
        "approval_to_refunded_notice": latency(3.0),
        "review_queue": latency(0.03),
        "errors": errors,
    }
    return {
        "when": "2026-12-02T21:00:00+00:00",
        "machine": {
            "cpus": 2,
            "cpu": "Xeon",
            "memory_gib": 23.5,
            "python": "3.11.7",
            "temporalio": "1.35.0",
            "temporal_cli": "1.9.1",
        },
        "settings": {
            "refunds": 100,
            "students_at_once": 16,
            "reviewers": 4,
            "database": "sqlite",
            "worker_max_cached_workflows": "50",
        },
        "skeleton": {
            "workflows": 100,
            "seconds": 40.0,
            "per_second": 2.0 / ratio,
            "shape": {"activities": 22, "upserts": 11, "timers": 2, "updates": 1, "signals": 1},
            "errors": {},
        },
        "max_rate": phase,
        "ratio": ratio,
        "half_rate": {**phase, "errors": {}, "rate_asked": 1.0},
        "complaints": {"filed": 20, "timer_lateness": latency(0.02)},
        "rss_mib": {
            "skeleton": {"worker": {"peak": 150.0, "end": 140.0}},
            "max rate": {"worker": {"peak": 190.0, "end": 180.0}},
        },
        "cpu_seconds": {
            "skeleton": {"worker": 20.0, "temporal server": 40.0},
            "max rate": {"worker": 60.0, "temporal server": 45.0, "api": 5.0},
        },
    }


def test_goals_met_are_said_to_be_met() -> None:
    text = section(result(ratio=0.85, ack_p99=0.4, errors={}))
    assert "Ratio to the skeleton: **0.85** (goal ≥ 0.8: met)" in text
    assert "Acknowledgement p99 at half rate: 0.40 s (goal ≤ 1 s: met)" in text
    assert "Errors of the refunds and complaints: **0** (goal 0: met)." in text
    assert "skeleton's driver" not in text
    assert "`worker_max_cached_workflows=50`" in text


def test_goals_missed_are_said_to_be_missed_with_the_errors_named() -> None:
    text = section(result(ratio=0.5, ack_p99=8.1, errors={"approval: 503": 3}))
    assert "(goal ≥ 0.8: **not met**)" in text
    assert "8.10 s (goal ≤ 1 s: **not met**)" in text
    assert "Errors of the refunds and complaints: **3** (goal 0: **not met**) — approval: 503 ×3." in text


def test_the_skeletons_own_errors_are_said_apart_from_the_goal() -> None:
    report = result(ratio=0.6, ack_p99=0.3, errors={})
    report["skeleton"]["errors"] = {"WorkflowUpdateRPCTimeoutOrCancelledError": 13}
    text = section(report)
    assert "Errors of the refunds and complaints: **0** (goal 0: met)." in text
    assert (
        "The skeleton's driver (Temporal's floor, not the system): 13 — "
        "WorkflowUpdateRPCTimeoutOrCancelledError ×13." in text
    )


def test_cpu_per_workflow_is_each_process_time_over_the_phase_count() -> None:
    text = section(result(ratio=0.8, ack_p99=0.5, errors={}))
    assert "| worker | 200 | 600 |" in text  # 20 s / 100 skeletons, 60 s / 100 refunds
    assert "| api | – | 50 |" in text
    assert "| **all** | 600 | 1,100 |" in text


def test_the_section_between_the_markers_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\n{MARKERS[0]}\nold figures\n{MARKERS[1]}\n\n<!-- bench:reports -->\nkept\n"
    )
    write_section(doc, MARKERS, section(result(ratio=0.9, ack_p99=0.3, errors={})))
    text = doc.read_text()
    assert "old figures" not in text and "Ratio to the skeleton: **0.90**" in text
    assert text.startswith("# Benchmarks\n\n") and text.endswith("<!-- bench:reports -->\nkept\n")


def test_a_document_without_the_markers_is_left_alone(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    with pytest.raises(SystemExit, match="no <!-- bench:workflows -->"):
        write_section(doc, MARKERS, section(result(ratio=0.9, ack_p99=0.3, errors={})))
    assert doc.read_text() == "# Benchmarks\n"


def test_percentiles_are_nearest_rank() -> None:
    hundred = Latencies(float(n) for n in range(1, 101))
    assert (hundred.percentile(50), hundred.percentile(95), hundred.percentile(99)) == (50.0, 95.0, 99.0)
    assert Latencies([0.3]).summary()["p99"] == 0.3
    assert Latencies().summary() == {"count": 0}


# Spends half a second of CPU, then idles.
BUSY_THEN_IDLE = """
import time
start = time.process_time()
while time.process_time() - start < 0.5:
    pass
time.sleep(30)
"""


def test_a_process_that_joins_and_leaves_a_phase_is_charged_its_cpu_there_only() -> None:
    busy = subprocess.Popen([sys.executable, "-c", BUSY_THEN_IDLE])
    try:
        sampler = ProcessSampler({})
        with sampler.phase("first"):
            sampler.add("busy", busy.pid)
            while (cpu_seconds(busy.pid) or 0.0) < 0.5:
                time.sleep(0.05)
            sampler.leave("busy")
        with sampler.phase("second"):
            pass
    finally:
        busy.kill()
        busy.wait()
    assert 0.5 <= sampler.cpu["first"]["busy"] < 5
    assert "busy" not in sampler.cpu.get("second", {})
