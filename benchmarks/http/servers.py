"""The processes one HTTP benchmark run starts, all on 127.0.0.1, each stopped by the run:
the databases (PostgreSQL from 127.0.0.1:5432 when it answers, else a throwaway server as the
tests start one), a throwaway Redis, and the application under gunicorn."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

#: The server the benchmark uses when it answers (its own databases, vm_bench_http_*).
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GUNICORN = Path(sys.executable).with_name("gunicorn")
#: Keys of the right length for MARKETPLACE_ENV=production (which refuses the defaults).
APP_SECRETS = {
    "SECRET_KEY": "bench-http-secret-key-0123456789abcdefghijklmnop",
    "AUDIT_SIGNING_KEY": "bench-http-audit-key-0123456789abcdefghijklmnop",
    "PARTY_HASH_KEY": "bench-http-party-key-0123456789abcdefghijklmnop",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def libpq(url: str) -> str:
    """The URL as libpq (psql, pgbench, psycopg) reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def on_database(admin_url: str, name: str) -> str:
    return (
        make_url(admin_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    admin_url: str
    detail: str

    def execute(self, sql: str) -> None:
        with psycopg.connect(libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(sql)

    def exists(self, name: str) -> bool:
        with psycopg.connect(libpq(self.admin_url), autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None

    def create(self, name: str, *, template: str | None = None) -> str:
        """A new database ``name`` with the production character type (C.UTF-8: see README
        "Running in production"), or a copy of ``template``."""
        self.drop(name)
        if template:
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            self.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
            )
        return on_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def setting(self, name: str) -> str:
        with psycopg.connect(libpq(self.admin_url), autocommit=True) as conn:
            row = conn.execute(f"SHOW {name}").fetchone()
        return str(row[0]) if row else "?"


@contextmanager
def postgres() -> Iterator[Postgres | None]:
    """``BENCH_POSTGRES_URL`` or 127.0.0.1:5432 when it answers; else a throwaway server from
    the installed binaries (tests/support/postgres.py); else None (the run says why)."""
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    try:
        with psycopg.connect(libpq(url), autocommit=True, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        yield Postgres(
            url,
            f"PostgreSQL {version[0] if version else '?'} at {make_url(url).host}:{make_url(url).port}",
        )
        return
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0]
    from tests.support import postgres as support

    bindir = support.find_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        print(f"PostgreSQL: {url} does not answer ({reason}) and no binaries", file=sys.stderr)
        yield None
        return
    server = support.ThrowawayServer(bindir)
    try:
        admin = server.start()
        yield Postgres(admin, f"throwaway PostgreSQL from {bindir} ({url} did not answer)")
    finally:
        server.stop()


# --------------------------------------------------------------------------- SQLite


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy (SQLite's online backup), WAL mode as the app sets it."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()


# --------------------------------------------------------------------------- Redis


@contextmanager
def redis() -> Iterator[str | None]:
    """A throwaway in-memory ``redis-server`` on a free port (RQ and the rate limits, as in
    production), so the run shares no keys with anything else; None when not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "Ready to accept connections" in line:
                break
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


# --------------------------------------------------------------------------- gunicorn


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    base: str
    log: Path


def app_environment(database_url: str, redis_url: str | None, instance: Path) -> dict[str, str]:
    """The application as production runs it (MARKETPLACE_ENV=production: rate limits on,
    jobs after commit through RQ, JSON request logs), with the default rate limit raised so
    the load from one address is measured rather than refused."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MARKETPLACE_ENV": "production",
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(instance),
        "UPLOAD_DIR": str(instance / "uploads"),
        "BASE_URL": "https://bench.example.cn",
        "RATE_LIMIT_DEFAULT": "10000000 per minute",
        "JOB_QUEUE": "bench",
        **APP_SECRETS,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@contextmanager
def gunicorn(
    app: str, env: Mapping[str, str], *, workers: int, log: Path, cwd: Path
) -> Iterator[Gunicorn]:
    """``gunicorn --workers N`` (sync workers, the documented deployment) on a free loopback
    port; ready when every worker answers /healthz-style probes; stopped with SIGTERM."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                str(GUNICORN),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--backlog",
                "2048",
                "--timeout",
                "120",
                app,
            ],
            env={**env, "PYTHONPATH": str(cwd)},
            cwd=cwd,
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, base + "/healthz", log)
        yield Gunicorn(process, base, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(
    process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s")
