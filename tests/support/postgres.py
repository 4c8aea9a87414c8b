"""Where the PostgreSQL tests get their server.

1. ``TEST_DATABASE_URL`` when set: we create (and drop) our own databases on that server.
2. Otherwise a throwaway server from the installed PostgreSQL binaries (initdb + pg_ctl),
   on a free loopback port, fsync off. PostgreSQL refuses to run as root, so as root the
   server runs as the ``postgres`` system user (or ``nobody``).
3. Otherwise nothing: the PostgreSQL tests skip with a loud reason — except under CI=true,
   where they fail, because CI must exercise PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Plan:
    source: str  # "TEST_DATABASE_URL", "throwaway", "unavailable"
    detail: str


def find_bindir() -> Path | None:
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def plan() -> Plan:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return Plan("TEST_DATABASE_URL", make_url(url).render_as_string(hide_password=True))
    bindir = find_bindir()
    if bindir is not None and (bindir / "initdb").exists():
        return Plan("throwaway", f"throwaway server from {bindir}")
    return Plan(
        "unavailable",
        "no TEST_DATABASE_URL and no PostgreSQL binaries (initdb, pg_ctl) installed",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(
        "running as root and no unprivileged user (postgres/nobody) to run PostgreSQL"
    )


class ThrowawayServer:
    def __init__(self, bindir: Path, settings: dict[str, str] | None = None) -> None:
        self.bindir = bindir
        #: Extra server settings (``-c name=value``), e.g. WAL archiving for the backup tests.
        self.settings = dict(settings or {})
        self.base = Path(tempfile.mkdtemp(prefix="vm-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.user = _server_user()

    def _run(self, *args: str) -> None:
        # As root, the server's own tools run as the unprivileged owner of its data directory.
        user = None if self.user is None else self.user.pw_uid
        group = None if self.user is None else self.user.pw_gid
        subprocess.run(
            args,
            check=True,
            capture_output=True,
            cwd=self.base,
            env={"PATH": "/usr/bin:/bin"},
            user=user,
            group=group,
            extra_groups=None if self.user is None else [],
        )

    def prepare(self) -> None:
        """Make the server's base directory its user's (as root), before anything runs."""
        if self.user is not None:
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)

    def start(self) -> str:
        self.prepare()
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            # As production should be (README): under the C character type pg_trgm splits
            # Chinese text apart and the catalogue's trigram index cannot serve Chinese queries.
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        self.resume()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def options(self) -> str:
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            + "".join(f" -c {name}={value}" for name, value in self.settings.items())
        )

    def resume(self) -> None:
        """Start the server on its data directory (again, after :meth:`halt`)."""
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "log"),
            "-o",
            self.options(),
            "-w",
            "start",
        )

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (fault tests restart it with :meth:`resume`)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _conninfo(url: str) -> str:
    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} "
        f"dbname={u.database or 'postgres'}" + (f" password={u.password}" if u.password else "")
    )


def create_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """Create database ``name`` (dropping any leftover) and return its URL."""
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    return (
        make_url(admin_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
