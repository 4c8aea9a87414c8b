"""The HTTP run as Markdown (the first table of benchmarks/reports/latest.md) and JSON."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.http.run import GOALS_TEXT, Run


def as_json(run: Run) -> dict[str, Any]:
    return {
        "goals": [g.as_dict() for g in run.goals],
        "facts": run.facts,
        "loads": run.loads,
        "notes": run.notes,
    }


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "no answer in the step"
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def markdown(run: Run) -> str:
    met = sum(g.met for g in run.goals)
    lines = [
        "## Over HTTP (gunicorn, wrk, pgbench, bare Flask — one run)",
        "",
        f"**{met} of {len(run.goals)} goals met.**",
        "",
        "| goal | figure | goal | met | detail |",
        "|---|---:|---|---|---|",
    ]
    for g in run.goals:
        lines.append(
            f"| {g.name} | {_fmt(g.figure)}{f' {g.unit}' if math.isfinite(g.figure) else ''} | "
            f"{g.op} {_fmt(g.bound)} | "
            f"{'yes' if g.met else '**no**'} | {g.note} |"
        )
    lines += ["", "### Figures", ""]
    facts = run.facts
    if "pgbench" in facts:
        p = facts["pgbench"]
        lines.append(
            f"* pgbench TPC-B, {p['clients']} clients, scale {p['scale']}, {p['seconds']} s: "
            f"**{p['tps']:,.0f} tps** (latency {p['latency_avg_ms']} ms, load average "
            f"{p['load_average']})"
        )
    for key in ("postgresql", "postgresql_settings", "redis", "hold_by_workers"):
        if key in facts:
            lines.append(f"* {key.replace('_', ' ')}: {facts[key]}")
    for world in facts.get("worlds", []):
        lines.append(
            f"* {world['backend']} world: {world['services']:,} services "
            f"({world['listed_services']:,} listed), {world['enterprises']:,} enterprises, "
            f"{world['smes_with_voucher']} SMEs with a voucher and a token, "
            f"{world['quoted_orders']:,} quoted orders ({world.get('made', 'seeded')} in "
            f"{world['seeding_seconds']} s, cached)"
        )
    lines += [
        "",
        "| server | request | conn. | answers/s | p50 ms | p95 ms | p99 ms | max ms | statuses "
        "| socket errors | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for backend, entries in run.loads.items():
        for e in entries:
            lat = e["latency_ms"]
            lines.append(
                f"| {backend} | {e['name']} | {e['connections']} | {e['rate_per_s']:,.1f} | "
                f"{lat['p50']} | {lat['p95']} | {lat['p99']} | {lat['max']} | "
                f"{', '.join(f'{k}: {v:,}' for k, v in sorted(e['statuses'].items()))} | "
                f"{sum(e['errors'].values())} | {e['load_average']} |"
            )
    for backend, cases in facts.get("overhead_us", {}).items():
        lines += [
            "",
            f"### Per-request overhead by hook ({backend}, in process, µs per request)",
            "",
        ]
        labels = list(cases)
        names = list(dict.fromkeys(name for case in cases.values() for name in case))
        lines += [
            "| hook | " + " | ".join(labels) + " |",
            "|---|" + "---:|" * len(labels),
        ]
        for name in names:
            cells = [f"{cases[label].get(name, 0):,.1f}" for label in labels]
            lines.append(f"| {name[:90]} | " + " | ".join(cells) + " |")
    lines += ["", *[f"* {n}" for n in run.notes], "", GOALS_TEXT]
    return "\n".join(lines)
