"""What `make bench-scale` writes: the growth table and its verdicts against the issue's scale goals
(worker memory bounded, review queue p99 < 100 ms, timers within 5 s, everything open, no errors)."""

from __future__ import annotations

from typing import Any

from bench.scale_report import section, worker_growth


def latency(p99: float) -> dict[str, float]:
    return {"count": 40, "p50": p99 / 4, "p95": p99 / 2, "p99": p99, "max": p99 * 1.5, "mean": p99 / 4}


def reading(opened: int, worker_mib: float) -> dict[str, Any]:
    return {
        "opened": opened,
        "seconds": opened / 5,
        "rss_mib": {"worker": worker_mib, "temporal server": 300.0, "api": 160.0},
        "review_queue": latency(0.05),
    }


def result(
    *,
    worker_mib: list[float],
    queue_p99: float,
    late_max: float,
    errors: dict[str, int],
    breach_late_max: float = 1.5,
    awaiting: int = 4000,
) -> dict[str, Any]:
    return {
        "when": "2026-12-03T09:00:00+00:00",
        "machine": {
            "cpus": 2, "cpu": "Xeon", "memory_gib": 23.5, "temporalio": "1.20.0", "temporal_cli": "1.5.1"
        },
        "settings": {
            "refunds": 4000,
            "complaints": 4000,
            "at_once": 16,
            "backlog": 48,
            "reviewers": 4,
            "first_response_minutes": 3,
            "worker_max_cached_workflows": 1000,
            "worker_activity_slots": 16,
            "database": "sqlite",
        },
        "load": {
            "asked_seconds": 1500.0,
            "open_seconds": 1600.0,
            "per_second": 5.0,
            "growth": [reading(2000 * (n + 1), mib) for n, mib in enumerate(worker_mib)],
        },
        "open": {
            "refunds awaiting review": awaiting, "complaints running": 4000, "complaints assigned": 4000
        },
        "hold": {"seconds": 180.0, "review_queue": latency(queue_p99)},
        "timer_lateness": {"complaints_sampled": 400, **latency(late_max / 1.5)},
        "breach_lateness": latency(breach_late_max / 1.5),
        "breach_decided_lateness": {**latency(breach_late_max / 1.5), "count": 4000, "over_goal": 60},
        "workflow_task_timeouts": 3,
        "errors": errors,
    }  # fmt: skip


def test_goals_met_are_said_to_be_met() -> None:
    text = section(result(worker_mib=[200, 250, 260, 262], queue_p99=0.06, late_max=0.9, errors={}))
    assert "**4,000 refunds and 4,000 complaints** opened through the API in 26.7 min" in text
    assert "| worker RSS bounded (second half of the load grows < 10%) | +12 MiB on 250 MiB | met |" in text
    assert "p50 15 / p95 30 / p99 60 ms (40 pages) | met |" in text
    assert "max 900 ms | met |" in text
    assert "40 breaches of 400 complaints: p50 250 / p99 1,000 / max 1,500 ms | met |" in text
    assert "Workflow tasks timed out in the 400 sampled histories: 3 (held by the worker" in text
    assert (
        "Over all 4,000 complaints, from the audit trail (when each workflow decided its breach, before "
        "the record was written): 4,000 breaches, p50 250 / p95 500 / p99 1,000 / max 1,500 ms after "
        "due; more than 5 s late: 60 (1.5%)." in text
    )
    assert "| every workflow open and waiting | 4,000 refunds, 4,000 complaints of 8,000 | met |" in text
    assert "| errors | 0 | met |" in text


def test_goals_missed_are_said_to_be_missed() -> None:
    text = section(
        result(
            worker_mib=[200, 300, 400, 500],
            queue_p99=0.25,
            late_max=7.5,
            errors={"review queue: 503": 2},
            awaiting=3990,
            breach_late_max=71.0,
        )
    )
    assert "| +200 MiB on 300 MiB | **not met** |" in text
    assert "p99 250 ms (40 pages) | **not met** |" in text
    assert "max 7,500 ms | **not met** |" in text
    assert "max 71,000 ms | **not met** |" in text
    assert "3,990 refunds, 4,000 complaints of 8,000 | **not met** |" in text
    assert "| errors | 2; review queue: 503 ×2 | **not met** |" in text


def test_the_growth_table_has_a_row_per_reading() -> None:
    text = section(result(worker_mib=[200, 250], queue_p99=0.06, late_max=0.9, errors={}))
    assert "| 2,000 | 6.7 | 200 | 300 | 160 | 50 |" in text
    assert "| 4,000 | 13.3 | 250 | 300 | 160 | 50 |" in text


def test_growth_is_measured_from_the_middle_reading_and_needs_two() -> None:
    assert worker_growth([reading(2000, 180.0)]) is None
    assert worker_growth([reading(n * 1000, mib) for n, mib in enumerate([100.0, 150.0, 170.0], 1)]) == (
        150.0,
        20.0,
    )


def test_breaches_never_recorded_miss_that_goal_and_a_run_from_before_says_not_measured() -> None:
    measured = result(worker_mib=[200, 250], queue_p99=0.06, late_max=0.9, errors={})
    measured["breach_lateness"] = {"count": 0}
    assert "| 0 breaches of 400 complaints: p50 – / p99 – / max – ms | **not met** |" in section(measured)
    del measured["breach_lateness"]
    assert "| 0 breaches of 400 complaints: p50 – / p99 – / max – ms | not measured |" in section(measured)


def test_a_run_from_before_the_audit_reading_has_no_such_line() -> None:
    earlier = result(worker_mib=[200, 250], queue_p99=0.06, late_max=0.9, errors={})
    del earlier["breach_decided_lateness"]
    assert "from the audit trail" not in section(earlier)
