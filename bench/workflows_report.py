"""The workflow bench's figures as the Markdown docs/benchmarks.md shows between its markers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

GOAL_RATIO = 0.8
GOAL_ACK_P99_SECONDS = 1.0


def row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _ms(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key] * 1000:,.0f} ms" if key in summary else "–"


def _s(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key]:.2f} s" if key in summary else "–"


def _latency(what: str, summary: dict[str, Any], unit: Callable[[dict[str, Any], str], str] = _s) -> str:
    return row(
        what, f"{summary.get('count', 0):,}", *(unit(summary, k) for k in ("p50", "p95", "p99", "max"))
    )


def _throughput(what: str, workflows: int, seconds: float, per_second: float) -> str:
    return row(what, f"{workflows:,}", f"{seconds:.0f}", f"{per_second:.2f}")


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _error_count(phases: list[dict[str, Any]]) -> tuple[int, str]:
    """How many errors these phases had, and their kinds ("" when none)."""
    kinds = [f"{kind} ×{n}" for phase in phases for kind, n in phase.get("errors", {}).items()]
    total = sum(phase_count for phase in phases for phase_count in phase.get("errors", {}).values())
    return total, " — " + "; ".join(kinds) if kinds else ""


def _errors(system_phases: list[dict[str, Any]], skeleton: dict[str, Any]) -> str:
    """The goal is the system's: the refunds' and complaints' errors. The skeleton's driver's own (an
    update that Temporal did not take in time) are said beside them, apart, as the floor's."""
    total, kinds = _error_count(system_phases)
    said = f"Errors of the refunds and complaints: **{total}** (goal 0: {_verdict(total == 0)}){kinds}."
    floor_total, floor_kinds = _error_count([skeleton])
    if floor_total:
        said += f" The skeleton's driver (Temporal's floor, not the system): {floor_total}{floor_kinds}."
    return said


def _setup(result: dict[str, Any]) -> str:
    machine, settings = result["machine"], result["settings"]
    tuned = ", ".join(f"`{k}={v}`" for k, v in settings.items() if k.startswith("worker_")) or "the defaults"
    return (
        f"Run {result['when']} on {machine['cpus']} × {machine['cpu']}, {machine['memory_gib']} GiB; "
        f"Python {machine['python']}, temporalio {machine['temporalio']}, Temporal CLI (dev server) "
        f"{machine['temporal_cli']}; database {settings['database']}; at most {settings['students_at_once']} "
        f"refund requests in flight, {settings['reviewers']} reviewers; worker settings: {tuned}."
    )


def section(result: dict[str, Any]) -> str:
    skeleton, max_rate, half = result["skeleton"], result["max_rate"], result["half_rate"]
    complaints = result["complaints"]
    shape = skeleton["shape"]
    ack_p99 = half["request_to_acknowledged"].get("p99", float("inf"))
    ratio = result["ratio"]
    lines = [
        _setup(result),
        "",
        f"The skeleton has the approved refund's shape: {shape['activities']} activities, "
        f"{shape['upserts']} search-attribute upserts, {shape['timers']} timers, {shape['updates']} update, "
        f"{shape['signals']} signal.",
        "",
        row("Throughput", "workflows", "seconds", "per second"),
        "|---|---:|---:|---:|",
        _throughput("skeleton (Temporal's floor)", skeleton["workflows"], skeleton["seconds"],
                    skeleton["per_second"]),
        _throughput("refunds, request to refunded, max rate", max_rate["refunds"], max_rate["seconds"],
                    max_rate["per_second"]),
        _throughput(f"refunds asked at half that rate ({half['rate_asked']:.2f}/s)", half["refunds"],
                    half["seconds"], half["per_second"]),
        "",
        f"Ratio to the skeleton: **{ratio:.2f}** (goal ≥ {GOAL_RATIO}: {_verdict(ratio >= GOAL_RATIO)}).",
        "",
        row("Latency", "count", "p50", "p95", "p99", "max"),
        "|---|---:|---:|---:|---:|---:|",
        _latency("request answered (202), max rate", max_rate["request_answered"], _ms),
        _latency("request → acknowledgement stored, max rate", max_rate["request_to_acknowledged"]),
        _latency("request → acknowledgement stored, half rate", half["request_to_acknowledged"]),
        _latency('approval → "refunded" notice stored, max rate', max_rate["approval_to_refunded_notice"]),
        _latency('approval → "refunded" notice stored, half rate', half["approval_to_refunded_notice"]),
        _latency("review queue (GET, 50 a page), max rate", max_rate["review_queue"], _ms),
        _latency("review queue (GET, 50 a page), half rate", half["review_queue"], _ms),
        _latency(f"SLA timers of {complaints['filed']} complaints: fired after due",
                 complaints["timer_lateness"]),
        "",
        f"Acknowledgement p99 at half rate: {ack_p99:.2f} s (goal ≤ {GOAL_ACK_P99_SECONDS:.0f} s: "
        f"{_verdict(ack_p99 <= GOAL_ACK_P99_SECONDS)}). {_errors([max_rate, half, complaints], skeleton)}",
        "",
        row("Resident memory, peak (MiB)", *result["rss_mib"]),
        "|---|" + "---:|" * len(result["rss_mib"]),
    ]  # fmt: skip
    processes = sorted({name for phase in result["rss_mib"].values() for name in phase})
    for name in processes:
        lines.append(
            row(
                name,
                *(
                    f"{phase[name]['peak']:,.0f}" if name in phase else "–"
                    for phase in result["rss_mib"].values()
                ),
            )
        )
    return "\n".join([*lines, "", *_cpu_table(result)])


def _cpu_table(result: dict[str, Any]) -> list[str]:
    """CPU time each process used per workflow, in the skeleton and max-rate phases: where the
    machine's cores went."""
    phases = {"skeleton": result["skeleton"]["workflows"], "max rate": result["max_rate"]["refunds"]}
    cpu = result["cpu_seconds"]
    processes = sorted({name for phase in phases for name in cpu.get(phase, {})})
    lines = [row("CPU per workflow (ms)", *phases), "|---|" + "---:|" * len(phases)]
    for name in processes:
        cells = (f"{cpu[p][name] / n * 1000:,.0f}" if name in cpu[p] else "–" for p, n in phases.items())
        lines.append(row(name, *cells))
    totals = (f"{sum(cpu[p].values()) / n * 1000:,.0f}" for p, n in phases.items())
    return [*lines, row("**all**", *totals)]


def write_section(doc: Path, markers: tuple[str, str], text: str) -> None:
    """Replace what is between the markers with `text` (the markers must be there)."""
    start, end = markers
    before, found, rest = doc.read_text().partition(start)
    _, found_end, after = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"bench: {doc} has no {start} … {end} section to write into")
    doc.write_text(f"{before}{start}\n{text}\n{end}{after}")
