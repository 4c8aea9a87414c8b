"""Tiny benchmark harness: timed runs, percentiles, peak memory, targets, a Markdown report."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    unit: str
    samples: list[float]
    peak_memory_kib: float
    targets: dict[str, float] = field(default_factory=dict)  # metric → upper bound

    @property
    def metrics(self) -> dict[str, float]:
        ordered = sorted(self.samples)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

        return {
            "n": float(len(ordered)),
            "median": statistics.median(ordered),
            "p95": pct(95),
            "max": ordered[-1],
            "peak_kib": self.peak_memory_kib,
        }

    def failures(self) -> list[str]:
        metrics = self.metrics
        return [
            f"{self.name}: {metric} = {metrics[metric]:.2f} > target {bound}"
            for metric, bound in self.targets.items()
            if metrics[metric] > bound
        ]


def measure(
    name: str,
    func: Callable[[], object],
    *,
    repeat: int,
    warmup: int = 10,
    targets: dict[str, float] | None = None,
) -> Result:
    """Run ``func`` ``repeat`` times; samples in milliseconds. Peak memory (KiB) comes from a
    separate, shorter traced pass, because tracing slows every allocation down."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    tracemalloc.start()
    for _ in range(max(1, repeat // 10)):
        func()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Result(name, "ms", samples, peak / 1024, targets or {})


def report(results: list[Result]) -> str:
    lines = [
        "| benchmark | n | median ms | p95 ms | max ms | peak KiB | targets | ok |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        m = r.metrics
        targets = ", ".join(f"{k} ≤ {v}" for k, v in r.targets.items()) or "—"
        ok = "yes" if not r.failures() else "**no**"
        lines.append(
            f"| {r.name} | {int(m['n'])} | {m['median']:.2f} | {m['p95']:.2f} | {m['max']:.2f} "
            f"| {m['peak_kib']:.0f} | {targets} | {ok} |"
        )
    return "\n".join(lines)
