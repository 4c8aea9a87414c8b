"""``make bench``: first the benchmark over HTTP (benchmarks/http: the application under
gunicorn on PostgreSQL and SQLite, driven by wrk, beside pgbench TPC-B and bare Flask; every
goal of issue 16 as a figure and a ratio), then the in-process figures (every
``benchmarks/bench_*.py`` through the Flask test client, one connection) on a fresh SQLite
database and, when one is available, a fresh PostgreSQL database. Both tables, the goals and
the machine's load average go to benchmarks/reports/latest.md and latest.json; the command
exits non-zero when a goal or a target is missed.

PostgreSQL comes from where the tests get it (tests/support/postgres.py): a database created
on ``TEST_DATABASE_URL``'s server, or a throwaway server started from the installed binaries.
Without either the PostgreSQL run is skipped and the reason printed and reported.
``BENCH_DATABASE_URL`` runs everything on that one (migrated, empty) database instead.

    python -m benchmarks                       # over HTTP, then the default in-process set
    python -m benchmarks --http-only           # over HTTP only (python -m benchmarks.http)
    python -m benchmarks --seed-only           # seed and cache the HTTP worlds, measure nothing
    python -m benchmarks --in-process-only     # every in-process benchmark, both databases
    python -m benchmarks --in-process-only --backend sqlite bench_catalogue
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from benchmarks import harness
from benchmarks.harness import Result, report
from marketplace import create_app, migrate

HERE = Path(__file__).resolve().parent
BACKENDS = ("sqlite", "postgresql")
#: The in-process benchmarks ``make bench`` runs after the HTTP part (the slow audit-export and
#: related-party ones run with --in-process-only): within the ten minutes of the default run.
DEFAULT_IN_PROCESS = ("bench_api", "bench_catalogue", "bench_ledger", "bench_orders")


# --------------------------------------------------------------------------- databases


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _create_postgres_database(admin_url: str, name: str) -> str:
    """A new database ``name`` with a UTF-8 character classification (LC_CTYPE C.UTF-8), as a
    production server has: pg_trgm indexes Chinese characters only under a UTF-8 LC_CTYPE
    (providers/search.py). Falls back to the server's default locale when C.UTF-8 is missing."""
    from tests.support import postgres

    try:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
            )
    except psycopg.Error:
        postgres.create_database(admin_url, name)
    return (
        make_url(admin_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


@contextmanager
def postgresql() -> Iterator[tuple[str | None, str]]:
    """(URL of a fresh database, where it came from) or (None, why there is none)."""
    from tests.support import postgres

    plan = postgres.plan()
    if plan.source == "unavailable":
        yield None, plan.detail
        return
    server = None
    if plan.source == "TEST_DATABASE_URL":
        admin_url = os.environ["TEST_DATABASE_URL"]
    else:
        bindir = postgres.find_bindir()
        assert bindir is not None
        server = postgres.ThrowawayServer(bindir)
        try:
            admin_url = server.start()
        except Exception as exc:
            server.stop()
            yield None, f"the throwaway PostgreSQL server did not start ({exc})"
            return
    name = f"vm_bench_{os.getpid()}"
    try:
        url = _create_postgres_database(admin_url, name)
        with psycopg.connect(_libpq(url)) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            ctype = conn.execute("SHOW lc_ctype").fetchone()
        detail = (
            f"PostgreSQL {version[0] if version else '?'} ({plan.detail}), "
            f"LC_CTYPE {ctype[0] if ctype else '?'}"
        )
        yield url, detail
    finally:
        try:
            postgres.drop_database(admin_url, name)
        finally:
            if server is not None:
                server.stop()


# --------------------------------------------------------------------------- running


def run_benchmarks(url: str, backend: str, instance: Path, only: list[str]) -> list[Result]:
    migrate.upgrade(url)
    app = create_app(
        {
            "MARKETPLACE_ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "INSTANCE_DIR": str(instance),
            "RATELIMIT_ENABLED": False,
        }
    )
    results = []
    try:
        for path in sorted(HERE.glob("bench_*.py")):
            if only and path.stem not in only:
                continue
            print(f"[{backend}] {path.stem}", flush=True)
            module = importlib.import_module(f"benchmarks.{path.stem}")
            for result in module.run(app):
                result.backend = backend
                print(f"  {result.name}: median {result.metrics['median']:.2f} ms", flush=True)
                results.append(result)
    finally:
        engine = app.extensions["db"].engine
        if engine is not None:
            engine.dispose()
    return results


def machine() -> str:
    cpu = "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f" · {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f" · load average {os.getloadavg()[0]:.2f} at start"
    return (
        f"{cpu} · {os.cpu_count()} cores{memory} · {platform.system()} {platform.release()}"
        f"{load} · Python {platform.python_version()} · SQLite {sqlite3.sqlite_version}"
    )


TARGETS_TEXT = """\
## Targets

Set for a provincial platform (Yunnan: tens of thousands of SMEs, a few thousand providers, calls
for applications that bring bursts of orders), on a 2-core machine, server time only (the Flask
test client, no network). Requests measured 40+ times are bound at the p95; operations run only
a few times (ledger verify, settlement) at the median, since with n < 20 the p95 is simply the
slowest run. A run that misses any target exits non-zero.

* **Public search** over 20,000 services: page p95 ≤ 250 ms, API p95 ≤ 150 ms, ≤ 16 MiB per
  request.
* **SME workspace** with 1,000 orders: wallet API p95 ≤ 50 ms; order list API p95 ≤ 100 ms;
  wallet and order list pages p95 ≤ 150 ms; ≤ 16 MiB per request.
* **Holds**: place + release (two transactions) ≥ 20 per second on one connection (5,000 SMEs
  accepting orders within an hour is 1.4 a second), p95 ≤ 100 ms, ≤ 4 MiB.
* **Ledger verify** over 100,000 entries: median ≤ 5 s and ≤ 64 MiB, so a year's ledger of
  about a million entries verifies within a minute.
* **Settlement** of 200 orders: pre-check median ≤ 2 s (service) and ≤ 3 s (API, page);
  submission of the 200 (two claims of 100, the per-claim maximum) median ≤ 5 s; one claim of
  100 through the API ≤ 2.5 s; ≤ 64 MiB.
* **Audit chain**: voucher holds with the tamper-evident chain keep ≥ 90 % of the throughput
  without it (alternating blocks on the same vouchers).
* **Audit export**: 1,000,000 audit records as the auditor's CSV at ≥ 50,000 rows/s (≤ 20 ms
  per 1,000 rows), traced peak ≤ 150 MiB.
* **Foundation**: GET /api/v1/me p95 ≤ 10 ms, home page p95 ≤ 15 ms, cached OpenAPI document
  p95 ≤ 5 ms.

Peak memory is the Python allocations traced with tracemalloc during a separate, shorter pass
(tracing slows every allocation down, so the timed runs are untraced); "—" means not traced.
ops/s is the number of runs divided by their total time.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("benchmarks", nargs="*", help="bench_* module names (in-process)")
    parser.add_argument("--backend", choices=BACKENDS, action="append", help="default: both")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--http-only", action="store_true", help="only the run over HTTP")
    only.add_argument("--in-process-only", action="store_true", help="only the in-process run")
    only.add_argument("--seed-only", action="store_true", help="seed and cache the HTTP worlds")
    args = parser.parse_args(argv)
    if args.seed_only:
        from benchmarks.http.run import Run, seed_only

        seed_only(Run())
        return 0
    started = time.perf_counter()
    when = datetime.now(UTC)
    host = machine()
    http_run = None
    if not args.in_process_only:
        from benchmarks.http.run import Run, run_http

        http_run = Run()
        run_http(http_run)
    results: list[Result] = []
    sections: list[str] = []
    if not args.http_only:
        chosen = args.benchmarks or ([] if args.in_process_only else list(DEFAULT_IN_PROCESS))
        results, sections = run_in_process(chosen, args.backend or list(BACKENDS))
    table = report(results)
    elapsed = time.perf_counter() - started
    load = os.getloadavg()
    header = (
        f"# Benchmarks\n\n{when:%Y-%m-%d %H:%M} UTC · {host} · load average "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end\n\n"
        f"`make bench` took {elapsed:.0f} s. Other work may share the machine: compare runs "
        "with the load average in mind.\n\n"
    )
    body = header
    if http_run is not None:
        from benchmarks.http.report import markdown

        body += markdown(http_run) + "\n\n"
    if results:
        body += (
            "## In process (Flask test client, one connection, server time only)\n\n"
            + table
            + "\n\n"
            + TARGETS_TEXT
            + "\n## Data\n\n"
            + "\n".join(sections)
        )
    reports = HERE / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "latest.md").write_text(body, encoding="utf-8")
    failures = [f for r in results for f in r.failures()]
    document: dict[str, object] = {
        "when": when.isoformat(),
        "machine": host,
        "seconds": round(elapsed, 1),
        "load_average_end": [round(x, 2) for x in load],
        "in_process": [
            {"name": r.name, "backend": r.backend, **r.metrics, "failures": r.failures()}
            for r in results
        ],
    }
    if http_run is not None:
        from benchmarks.http.report import as_json

        document["http"] = as_json(http_run)
        failures += [
            f"{g.name}: {g.figure:,.2f} (goal {g.op} {g.bound:,.2f})"
            for g in http_run.goals
            if not g.met
        ]
    (reports / "latest.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    print()
    print(body if http_run is not None else header + table)
    for failure in failures:
        print("MISSED:", failure, file=sys.stderr)
    return 1 if failures else 0


def run_in_process(only: list[str], backends: list[str]) -> tuple[list[Result], list[str]]:
    tmp = Path(tempfile.mkdtemp(prefix="vm-bench-"))
    results: list[Result] = []
    sections: list[str] = []
    try:
        explicit = os.environ.get("BENCH_DATABASE_URL")
        if explicit:
            backend = make_url(explicit).get_backend_name()
            harness.NOTES.clear()
            results += run_benchmarks(explicit, backend, tmp / backend, only)
            sections.append(_section(backend, "BENCH_DATABASE_URL", harness.NOTES))
            return results, sections
        for backend in backends:
            harness.NOTES.clear()
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
                results += run_benchmarks(url, backend, tmp / backend, only)
                sections.append(_section(backend, "file, WAL", harness.NOTES))
                continue
            with postgresql() as (pg_url, detail):
                if pg_url is None:
                    message = f"PostgreSQL skipped: {detail}"
                    print(message, file=sys.stderr)
                    sections.append(f"### postgresql\n\n**Skipped**: {detail}\n")
                    continue
                print(f"[postgresql] {detail}", flush=True)
                results += run_benchmarks(pg_url, backend, tmp / backend, only)
                sections.append(_section(backend, detail, harness.NOTES))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results, sections


def _section(backend: str, detail: str, notes: list[str]) -> str:
    lines = [f"### {backend}", "", detail, ""]
    lines += [f"* {text}" for text in notes]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
