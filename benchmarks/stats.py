"""Small measuring helpers: percentiles, a resident-memory sampler, CPU accounting. No porgate imports."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import psutil


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(values_s: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds."""
    v = sorted(values_s)
    if not v:
        return {"count": 0}
    ms = 1000.0
    return {
        "count": len(v),
        "p50_ms": round(percentile(v, 50) * ms, 2),
        "p95_ms": round(percentile(v, 95) * ms, 2),
        "p99_ms": round(percentile(v, 99) * ms, 2),
        "max_ms": round(v[-1] * ms, 2),
        "mean_ms": round(sum(v) / len(v) * ms, 2),
    }


def p99_by_tenth(sent: dict, latency_s: dict) -> list[float]:
    """p99 latency (ms) of each tenth of the orders, in the order they were sent: whether the
    latency holds steady through a phase or drifts (a backlog building, a broker slowing)."""
    keys = sorted(latency_s, key=sent.__getitem__)
    tenths = [keys[i * len(keys) // 10 : (i + 1) * len(keys) // 10] for i in range(10)]
    return [round(percentile(sorted(latency_s[k] for k in t), 99) * 1000.0, 1) for t in tenths if t]


def throughput(
    sent: dict[str, float], seen: dict[str, tuple[float, float, bytes]], keys: Sequence[str]
) -> dict:
    done = sorted(seen[k][0] for k in keys if k in seen)
    if not done:
        return {}
    first = min(sent[k] for k in keys)
    total = len(done) / (done[-1] - first)
    lo, hi = done[len(done) // 10], done[(len(done) * 9) // 10]
    steady = (len(done) * 8 // 10) / (hi - lo) if hi > lo else None
    return {
        "decided": len(done),
        "first_publish_to_last_decision_s": round(done[-1] - first, 2),
        # The ramp: how long the pipeline took to deliver its first decision, and its first tenth.
        "first_publish_to_first_decision_s": round(done[0] - first, 2),
        "first_publish_to_10pct_s": round(lo - first, 2),
        "per_s": round(total, 1),
        "steady_per_s_10_to_90pct": round(steady, 1) if steady else None,
    }


def latency_by_hop(
    sent: dict[str, float],
    requests: dict[str, tuple[float, float, bytes]],
    decisions: dict[str, tuple[float, float, bytes]],
    keys: Sequence[str],
) -> dict[str, dict]:
    """Where an order's latency goes, from the record timestamps each producer set (one clock,
    one machine): each service's hop runs from the record it consumed being written to the
    record it produced being written, so it holds the broker, the fetch wait, the batch's
    wait behind the previous one, decoding, the transaction and the publish."""
    both = [k for k in keys if k in requests and k in decisions]
    return {
        "order-intake: order sent -> request written": latency_summary(
            requests[k][1] - sent[k] for k in both
        ),
        "por-validator: request written -> decision written": latency_summary(
            decisions[k][1] - requests[k][1] for k in both
        ),
        "reader: decision written -> consumed by the benchmark": latency_summary(
            decisions[k][0] - decisions[k][1] for k in both
        ),
    }


def mib(n: float | None) -> float | None:
    return None if n is None else round(n / (1024 * 1024), 1)


def vm_hwm(pid: int) -> int | None:
    """The kernel's own peak RSS of a process (VmHWM), in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples the RSS of some processes every `interval` seconds, in a thread of its own
    (so a busy event loop in this process never delays a sample)."""

    def __init__(self, pids: dict[str, int], interval: float = 0.2) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.interval = interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.marks: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def current(self) -> dict[str, int]:
        out = {}
        for name, proc in self.procs.items():
            try:
                out[name] = proc.memory_info().rss
            except psutil.Error:
                pass
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.current()))
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def mark(self, label: str) -> None:
        self.marks[label] = self.current()

    def capture_hwm(self) -> None:
        """Read the kernel's peak RSS while the processes still exist."""
        self.hwm = {n: vm_hwm(p.pid) for n, p in self.procs.items()}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def summary(self) -> dict:
        names = list(self.procs)
        peak = {n: max((s.get(n, 0) for _, s in self.samples), default=0) for n in names}
        total_peak = max((sum(s.values()) for _, s in self.samples), default=0)
        hwm = getattr(self, "hwm", None) or {n: vm_hwm(p.pid) for n, p in self.procs.items()}
        return {
            "processes": {n: self.procs[n].pid for n in names},
            "samples": len(self.samples),
            "interval_s": self.interval,
            "peak_rss_mib": {n: mib(v) for n, v in peak.items()},
            "peak_rss_total_mib": mib(total_peak),
            "vm_hwm_mib": {n: mib(v) for n, v in hwm.items()},
            "series_mib": _downsample(
                [(round(t - self.samples[0][0], 1), mib(sum(v.values()))) for t, v in self.samples]
            ),
            "rss_mib_at": {
                label: {n: mib(v) for n, v in vals.items()} | {"total": mib(sum(vals.values()))}
                for label, vals in self.marks.items()
            },
        }


class CpuMeter:
    """CPU seconds spent by groups of processes between start() and stop()."""

    def __init__(
        self, groups: dict[str, list[int]], recursive: frozenset[str] = frozenset()
    ) -> None:
        # Groups named in `recursive` include their processes' descendants.
        self.groups = groups
        self.recursive = recursive
        self._start: dict[str, dict[int, float]] = {}
        self._t0 = 0.0
        self.result: dict = {}

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            t = psutil.Process(pid).cpu_times()
            return t.user + t.system
        except psutil.Error:
            return None

    def _pids(self, group: str) -> list[int]:
        # With descendants where asked (PostgreSQL backends are children of the postmaster).
        out = []
        for pid in self.groups[group]:
            out.append(pid)
            if group in self.recursive:
                try:
                    out.extend(c.pid for c in psutil.Process(pid).children(recursive=True))
                except psutil.Error:
                    pass
        return out

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return (
            sum(t)
            - t.idle
            - getattr(t, "iowait", 0.0)
            - getattr(t, "guest", 0.0)
            - getattr(t, "guest_nice", 0.0)
        )

    def start(self) -> CpuMeter:
        self._machine0 = self._machine_busy()
        self._t0 = time.monotonic()
        self._start = {g: {p: self._cpu(p) or 0.0 for p in self._pids(g)} for g in self.groups}
        return self

    def stop(self) -> dict:
        wall = time.monotonic() - self._t0
        out = {}
        for g in self.groups:
            total = 0.0
            for p in self._pids(g):
                now = self._cpu(p)
                if now is not None:
                    total += now - self._start[g].get(p, 0.0)  # a new backend started at 0
            out[g] = {"cpu_s": round(total, 2), "cores": round(total / wall, 2) if wall else None}
        machine = self._machine_busy() - self._machine0
        ours = sum(v["cpu_s"] for v in out.values())
        self.result = {
            "wall_s": round(wall, 2),
            "by_process_group": out,
            "machine_cores_busy": round(machine / wall, 2) if wall else None,
            # Anything else running on the machine meanwhile (other jobs, py-spy): it competes for the cores.
            "other_processes_cores": round(max(0.0, machine - ours) / wall, 2) if wall else None,
        }
        return self.result


def _downsample(series: list, points: int = 60) -> list:
    """At most `points` evenly spaced (seconds, total RSS MiB) pairs, for the JSON report."""
    if len(series) <= points:
        return series
    step = len(series) / points
    return [series[int(i * step)] for i in range(points)] + [series[-1]]
