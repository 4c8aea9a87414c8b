"""Tiny benchmark harness: timed runs, percentiles, throughput, peak memory, targets, a
Markdown report.

A target is an upper bound (``targets``: median, p95, max in ms, peak_kib) or a lower bound
(``floors``: ops_per_s, operations per second over the timed runs). A missed target makes
``make bench`` exit non-zero.
"""

from __future__ import annotations

import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

#: Free-text notes for the report (dataset sizes, seeding times), collected per database.
NOTES: list[str] = []


def note(text: str) -> None:
    NOTES.append(text)
    print("  ·", text, flush=True)


_LABELS = {
    "median": ("median", "ms"),
    "p95": ("p95", "ms"),
    "max": ("max", "ms"),
    "peak_kib": ("peak", "KiB"),
    "ops_per_s": ("throughput", "/s"),
}


@dataclass
class Result:
    name: str
    unit: str
    samples: list[float]
    peak_memory_kib: float
    targets: dict[str, float] = field(default_factory=dict)  # metric → upper bound
    floors: dict[str, float] = field(default_factory=dict)  # metric → lower bound
    backend: str = ""

    @property
    def metrics(self) -> dict[str, float]:
        ordered = sorted(self.samples)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

        total = sum(ordered)
        return {
            "n": float(len(ordered)),
            "median": statistics.median(ordered),
            "p95": pct(95),
            "max": ordered[-1],
            "peak_kib": self.peak_memory_kib,
            "ops_per_s": len(ordered) / (total / 1000) if total > 0 else float("inf"),
        }

    def failures(self) -> list[str]:
        metrics = self.metrics
        where = f" [{self.backend}]" if self.backend else ""
        missed = [
            f"{self.name}{where}: {metric} = {metrics[metric]:.2f} > target {bound}"
            for metric, bound in self.targets.items()
            if metrics[metric] > bound
        ]
        missed += [
            f"{self.name}{where}: {metric} = {metrics[metric]:.2f} < target {bound}"
            for metric, bound in self.floors.items()
            if metrics[metric] < bound
        ]
        return missed

    def target_text(self) -> str:
        def fmt(metric: str, op: str, bound: float) -> str:
            label, unit = _LABELS.get(metric, (metric, ""))
            if metric == "peak_kib":
                return f"{label} {op} {bound / 1024:g} MiB"
            return f"{label} {op} {bound:g} {unit}".rstrip()

        parts = [fmt(m, "≤", b) for m, b in self.targets.items()]
        parts += [fmt(m, "≥", b) for m, b in self.floors.items()]
        return ", ".join(parts) or "—"


def measure(
    name: str,
    func: Callable[[], object],
    *,
    repeat: int,
    warmup: int = 10,
    traced: int | None = None,
    targets: dict[str, float] | None = None,
    floors: dict[str, float] | None = None,
) -> Result:
    """Run ``func`` ``repeat`` times; samples in milliseconds. Peak memory (KiB) comes from a
    separate, shorter traced pass (``traced`` runs, default a tenth of ``repeat``), because
    tracing slows every allocation down."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    runs = traced if traced is not None else max(1, repeat // 10)
    peak_kib = math.nan  # not traced
    if runs:
        tracemalloc.start()
        for _ in range(runs):
            func()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_kib = peak / 1024
    return Result(name, "ms", samples, peak_kib, targets or {}, floors or {})


def report(results: list[Result]) -> str:
    lines = [
        "| benchmark | database | n | median ms | p95 ms | max ms | ops/s | peak KiB | targets | ok |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        m = r.metrics
        ok = "yes" if not r.failures() else "**no**"
        peak = "—" if math.isnan(m["peak_kib"]) else f"{m['peak_kib']:.0f}"
        lines.append(
            f"| {r.name} | {r.backend or '—'} | {int(m['n'])} | {m['median']:.2f} | {m['p95']:.2f} "
            f"| {m['max']:.2f} | {m['ops_per_s']:.1f} | {peak} | {r.target_text()} "
            f"| {ok} |"
        )
    return "\n".join(lines)
