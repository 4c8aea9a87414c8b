"""The load generators: Debian's ``wrk`` (C, event loop: a few % of a core at these rates)
with the Lua scripts beside this file, and ``pgbench`` TPC-B, the database's own ceiling."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
#: wrk's threads: one per core of this 2-core machine.
THREADS = 2


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: run scripts/ensure-wrk.sh (apt-get install wrk)")
    return found


@dataclass
class Load:
    """One wrk run: rates, latency percentiles (ms) and the answers by HTTP status."""

    name: str
    connections: int
    seconds: float
    requests: int
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    @property
    def rate(self) -> float:
        """Successful (2xx) answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, name: str) -> float:
        """A latency percentile (ms); infinite when nothing was answered within the step (a
        step whose every request outlasted it is not a fast one)."""
        return self.latency_ms[name] if self.ok else float("inf")

    @property
    def failed(self) -> int:
        """Answers that were not 2xx (the 404 of an exhausted accept script excepted) and
        socket errors / timeouts."""
        bad = sum(n for s, n in self.statuses.items() if not s.startswith("2") and s != "404")
        return bad + sum(self.errors.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "connections": self.connections,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "ok": self.ok,
            "rate_per_s": round(self.rate, 1),
            "statuses": self.statuses,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            **self.extra,
        }


def wrk(
    name: str,
    base: str,
    script: str,
    args: list[str],
    *,
    connections: int,
    seconds: int,
    timeout_s: int = 10,
) -> Load:
    threads = min(THREADS, connections)
    command = [
        wrk_binary(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        f"--timeout={timeout_s}s",
        "--latency",
        f"--script={LUA / script}",
        base,
        "--",
        *args,
    ]
    if script == "accept.lua":
        command.append(str(threads))
    run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    match = re.search(r"^WRK-JSON (.*)$", run.stdout, re.MULTILINE)
    if run.returncode != 0 or match is None:
        raise RuntimeError(
            f"wrk failed ({run.returncode}): {run.stdout[-2000:]} {run.stderr[-2000:]}"
        )
    data = json.loads(match.group(1))
    return Load(
        name=name,
        connections=connections,
        seconds=data["duration_us"] / 1e6,
        requests=data["requests"],
        statuses=data["statuses"],
        errors=data["errors"],
        latency_ms={k: round(v / 1000, 2) for k, v in data["latency_us"].items()},
    )


@dataclass
class Pgbench:
    tps: float
    clients: int
    scale: int
    seconds: int
    latency_ms: float

    def as_dict(self) -> dict[str, object]:
        return {
            "tps": round(self.tps, 1),
            "clients": self.clients,
            "scale": self.scale,
            "seconds": self.seconds,
            "latency_avg_ms": self.latency_ms,
        }


def pgbench(libpq_url: str, *, clients: int = 16, scale: int = 16, seconds: int = 10) -> Pgbench:
    """TPC-B (pgbench's default script) at ``clients`` connections, on a database initialised
    at ``scale`` (one branch per client, so the clients do not all queue on one row)."""
    binary = shutil.which("pgbench")
    if binary is None:
        raise RuntimeError("pgbench is not installed (package postgresql-contrib / postgresql-15)")
    subprocess.run(
        [binary, "--initialize", "--quiet", f"--scale={scale}", libpq_url],
        check=True,
        capture_output=True,
        text=True,
    )
    run = subprocess.run(
        [
            binary,
            f"--client={clients}",
            f"--jobs={THREADS}",
            f"--time={seconds}",
            "--no-vacuum",
            libpq_url,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    tps = re.search(r"^tps = ([\d.]+)", run.stdout, re.MULTILINE)
    latency = re.search(r"^latency average = ([\d.]+) ms", run.stdout, re.MULTILINE)
    if tps is None:
        raise RuntimeError(f"pgbench printed no tps: {run.stdout[-1000:]}")
    return Pgbench(
        tps=float(tps.group(1)),
        clients=clients,
        scale=scale,
        seconds=seconds,
        latency_ms=float(latency.group(1)) if latency else float("nan"),
    )
