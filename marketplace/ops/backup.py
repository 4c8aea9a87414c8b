"""Backups that restore, and the drill that proves it (issue 17).

A backup is a directory ``<root>/<UTC time>/`` holding:

* the database — SQLite: ``database.sqlite3``, copied with SQLite's online backup API
  (consistent while the app keeps writing); PostgreSQL: ``base.tar.gz`` and ``pg_wal.tar.gz``
  from ``pg_basebackup`` (a physical base backup, self-contained, the start for point-in-time
  recovery with the WAL archive);
* ``uploads.tar.gz``: every uploaded document (``UPLOAD_DIR``);
* ``manifest.json``: when, the backend, the schema revision, the row count of every table,
  the ledger's and the audit trail's heads (count, last id and a SHA-256 digest over their
  rows), every uploaded file's checksum, and the SHA-256 of each file above.

The manifest describes the backup's own content: on SQLite it is read from the copy; on
PostgreSQL the base backup is restored once into a scratch server (recovery to the end of the
backup) and read there, so the manifest never mixes in rows written while the backup ran.

``restore`` puts a backup back (SQLite: a file; PostgreSQL: a data directory and a server
started on it, optionally recovered to a point in time from the WAL archive). ``drill``
restores into a fresh scratch place, checks the checksums, runs ``flask ledger verify`` (and
``flask audit verify`` when this release has that command) against the restored copy, compares
it with the manifest and reports how long each step took.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from marketplace.config import Settings
from marketplace.db import create_engine
from marketplace.models import metadata

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
UPLOADS_FILE = "uploads.tar.gz"
PG_BASE, PG_WAL = "base.tar.gz", "pg_wal.tar.gz"
FORMAT_VERSION = 1
#: Tables whose rows the manifest fingerprints (the books and the trail).
LEDGER_TABLES = ("ledger_transactions", "ledger_entries")
AUDIT_TABLES = ("audit_events",)


class BackupError(Exception):
    """A backup, restore or drill step failed; the message says which and why."""


# --------------------------------------------------------------------------- manifest


def _digest_rows(engine: Engine, table_names: tuple[str, ...]) -> dict[str, Any]:
    """Count, last id and SHA-256 over every row of ``table_names``, in id order."""
    digest = hashlib.sha256()
    count, last_id = 0, None
    with engine.connect() as conn:
        for name in table_names:
            table = metadata.tables[name]
            for row in conn.execute(sa.select(table).order_by(table.c.id)):
                values = [v.isoformat() if isinstance(v, datetime) else v for v in row]
                digest.update(json.dumps(values, default=str, sort_keys=True).encode())
                digest.update(b"\n")
                count += 1
                last_id = row.id
    return {"rows": count, "last_id": last_id, "sha256": digest.hexdigest()}


def database_facts(engine: Engine) -> dict[str, Any]:
    """What a manifest records about a database (and what the drill compares)."""
    from alembic.runtime.migration import MigrationContext  # only backups need Alembic

    with engine.connect() as conn:
        revisions = sorted(MigrationContext.configure(conn).get_current_heads())
        counts = {
            table.name: int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
        }
    return {
        "schema_revisions": revisions,
        "row_counts": counts,
        "ledger_head": {
            "transactions": counts.get("ledger_transactions", 0),
            **_digest_rows(engine, LEDGER_TABLES),
        },
        "audit_head": _digest_rows(engine, AUDIT_TABLES),
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _upload_checksums(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".upload-")  # half-written temporaries
    }


def _pack_uploads(root: Path, target: Path) -> dict[str, str]:
    checksums = _upload_checksums(root)
    with tarfile.open(target, "w:gz") as tar:
        for relative in checksums:
            tar.add(root / relative, arcname=relative, recursive=False)
    return checksums


def unpack(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        # The data filter refuses absolute paths, "..", links out of the tree and devices:
        # a tampered archive cannot write outside ``target``.
        tar.extractall(target, filter="data")


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    if not path.is_file():
        raise BackupError(f"{backup_dir}: no {MANIFEST}; not a backup made by `flask ops backup`")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{path}: not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{path}: unknown backup format {manifest.get('format')!r}")
    return manifest


def verify_checksums(backup_dir: Path, manifest: Mapping[str, Any]) -> list[str]:
    """Files whose size or SHA-256 differs from the manifest (empty: all intact)."""
    problems = []
    for name, expected in manifest["files"].items():
        path = backup_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != expected["bytes"] or sha256_file(path) != expected["sha256"]:
            problems.append(f"{name}: checksum mismatch (damaged or altered)")
    return problems


def _file_entry(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _write_manifest(backup_dir: Path, manifest: dict[str, Any]) -> None:
    path = backup_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    path.chmod(0o600)


def _new_backup_dir(root: Path, now: datetime) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    backup_dir = root / now.strftime("%Y%m%dT%H%M%S.%fZ")
    # The backup holds personal data and bank accounts: readable by its owner only.
    backup_dir.mkdir(mode=0o700)
    return backup_dir


# --------------------------------------------------------------------------- PostgreSQL


def find_pg_bindir(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    found = shutil.which("pg_ctl")  # Debian puts only wrappers on PATH, without pg_ctl
    if found and (Path(found).resolve().parent / "pg_basebackup").exists():
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise BackupError("PostgreSQL client programs (pg_basebackup, pg_ctl) are not installed")
    return Path(candidates[-1]).parent


def _server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root; as root, scratch servers run as ``postgres``."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise BackupError("running as root and there is no postgres user to run a server") from None


def _libpq_env(url: str) -> dict[str, str]:
    u = make_url(url)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGHOST": u.host or "127.0.0.1",
        "PGPORT": str(u.port or 5432),
        "PGUSER": u.username or "postgres",
        "PGDATABASE": u.database or "postgres",
    }
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return env


def _run(args: list[str], *, env: Mapping[str, str] | None = None, as_server: bool = False) -> str:
    user = _server_user() if as_server else None
    try:
        done = subprocess.run(
            args,
            check=True,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else {"PATH": "/usr/bin:/bin"},
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
        )
    except subprocess.CalledProcessError as exc:
        raise BackupError(
            f"{Path(args[0]).name} failed ({exc.returncode}): {exc.stderr.strip()[-2000:]}"
        ) from None
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RestoredServer:
    """A PostgreSQL server started on a restored data directory."""

    bindir: Path
    data_dir: Path
    port: int
    database: str
    user: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def stop(self) -> None:
        _run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            as_server=True,
        )


def _chown_tree(root: Path) -> None:
    user = _server_user()
    if user is None:
        return
    for path in [root, *root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


def restore_postgres(
    backup_dir: Path,
    data_dir: Path,
    *,
    source_url: str,
    port: int | None = None,
    target_time: datetime | None = None,
    wal_archive: Path | None = None,
    bindir: Path | None = None,
) -> RestoredServer:
    """Unpack the base backup into ``data_dir`` (new or empty) and start a server on it.

    Without ``target_time`` the server recovers to the end of the backup. With it, WAL from
    ``wal_archive`` is replayed up to that moment (point-in-time recovery); a target beyond the
    archived WAL fails rather than silently stopping early.
    """
    bindir = bindir or find_pg_bindir()
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir}: not empty; restore into a new data directory")
    if target_time is not None and wal_archive is None:
        raise BackupError("a point-in-time restore needs the WAL archive (--wal-archive)")
    data_dir.mkdir(parents=True, exist_ok=True)
    unpack(backup_dir / PG_BASE, data_dir)
    unpack(backup_dir / PG_WAL, data_dir / "pg_wal")
    for leftover in ("postmaster.pid", "postmaster.opts"):
        (data_dir / leftover).unlink(missing_ok=True)
    settings: dict[str, str] = {
        # The original server's archiving must not write into the archive from a restored copy.
        "archive_mode": "off",
    }
    if wal_archive is not None:
        # Archive recovery: replay archived WAL up to the target (or all of it), then promote.
        # Connections only once recovery is over, so `pg_ctl -w start` returns exactly when the
        # restored database is consistent and promoted.
        settings["hot_standby"] = "off"
        settings["restore_command"] = f'\'cp "{wal_archive}/%f" "%p"\''
        settings["recovery_target_action"] = "'promote'"
        if target_time is not None:
            settings["recovery_target_time"] = f"'{target_time.astimezone(UTC).isoformat()}'"
            settings["recovery_target_inclusive"] = "false"
        (data_dir / "recovery.signal").touch()
    # Without an archive, the WAL streamed into the backup (pg_wal) brings the copy to the end
    # of the backup by ordinary crash recovery from its backup_label.
    with (data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# flask ops restore\n")
        for name, value in settings.items():
            conf.write(f"{name} = {value}\n")
    data_dir.chmod(0o700)
    _chown_tree(data_dir)
    port = port or _free_port()
    socket_dir = data_dir  # a private socket directory: no clash with the system's server
    log_path = data_dir / "restore.log"
    try:
        _start_server(bindir, data_dir, log_path, port, socket_dir)
    except BackupError as exc:
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise BackupError(f"{exc}\nserver log:\n{tail}") from None
    u = make_url(source_url)
    server = RestoredServer(
        bindir, data_dir, port, u.database or "postgres", u.username or "postgres"
    )
    if wal_archive is not None:
        _wait_until_promoted(server, log_path)
    return server


def _wait_until_promoted(server: RestoredServer, log_path: Path, timeout: float = 3600) -> None:
    """`pg_ctl -w` returns once the server runs; archive recovery may still be replaying.
    Wait until it has reached its target and accepts work (or fail with its log)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=server.port,
                user=server.user,
                dbname=server.database,
                connect_timeout=5,
            ) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                    return
        except psycopg.OperationalError:
            pass  # "not accepting connections" while it replays
        if not (server.data_dir / "postmaster.pid").exists():  # recovery failed: it stopped
            tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
            raise BackupError(f"the restored server stopped during recovery:\n{tail}")
        if time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
            raise BackupError(f"recovery did not finish within {timeout:.0f} s:\n{tail}")
        time.sleep(0.2)  # recovery announces its end nowhere we could wait on


def _start_server(
    bindir: Path, data_dir: Path, log_path: Path, port: int, socket_dir: Path
) -> None:
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(log_path),
            "-o",
            f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1",
            "-t",
            "600",
            "-w",
            "start",
        ],
        as_server=True,
    )


def archive_current_wal(url: str, *, timeout: float = 60.0) -> str:
    """Close the current WAL segment and wait until the archiver has stored it; return its
    name. Makes everything committed so far recoverable from the archive (backups end with
    it; an operator can run it before maintenance)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            segment = conn.scalar(sa.text("SELECT pg_walfile_name(pg_switch_wal())"))
            deadline = time.monotonic() + timeout
            while True:
                archived, failed = conn.execute(
                    sa.text("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver")
                ).one()
                if archived is not None and archived >= segment:
                    return str(segment)
                if time.monotonic() > deadline:
                    raise BackupError(
                        f"WAL segment {segment} was not archived within {timeout:.0f} s "
                        f"(last archived {archived}, last failed {failed}): check archive_command"
                    )
                time.sleep(0.2)  # the archiver runs on its own schedule; nothing to wait on
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- backup


@dataclass
class BackupResult:
    directory: Path
    manifest: dict[str, Any]
    seconds: float


def backup(
    settings: Settings, root: Path, *, bindir: Path | None = None, now: datetime | None = None
) -> BackupResult:
    """Back up the database and the uploads into a new directory under ``root``."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    backup_dir = _new_backup_dir(root, now)
    try:
        files: dict[str, Any] = {}
        if settings.is_sqlite:
            facts = _backup_sqlite(settings, backup_dir)
            files[SQLITE_FILE] = _file_entry(backup_dir / SQLITE_FILE)
        else:
            facts = _backup_postgres(settings, backup_dir, bindir or find_pg_bindir())
            for name in (PG_BASE, PG_WAL):
                files[name] = _file_entry(backup_dir / name)
        uploads = _pack_uploads(settings.upload_dir, backup_dir / UPLOADS_FILE)
        files[UPLOADS_FILE] = _file_entry(backup_dir / UPLOADS_FILE)
        for name in files:
            (backup_dir / name).chmod(0o600)
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": now.isoformat(),
            "backend": "sqlite" if settings.is_sqlite else "postgresql",
            **facts,
            "uploads": uploads,
            "files": files,
        }
        manifest["seconds"] = round(time.monotonic() - started, 3)
        _write_manifest(backup_dir, manifest)
    except BaseException:
        shutil.rmtree(backup_dir, ignore_errors=True)  # never leave a backup that looks whole
        raise
    return BackupResult(backup_dir, manifest, manifest["seconds"])


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL names no SQLite file to back up")
    return Path(database)


def _backup_sqlite(settings: Settings, backup_dir: Path) -> dict[str, Any]:
    source = sqlite3.connect(_sqlite_path(settings.database_url))
    target = sqlite3.connect(backup_dir / SQLITE_FILE)
    try:
        # The online backup API copies a consistent snapshot while others keep writing.
        source.backup(target)
    finally:
        target.close()
        source.close()
    engine = create_engine(f"sqlite:///{backup_dir / SQLITE_FILE}")
    try:
        return database_facts(engine)
    finally:
        engine.dispose()
        _drop_sqlite_sidecars(backup_dir / SQLITE_FILE)


def _drop_sqlite_sidecars(path: Path) -> None:
    # Our engines switch a file to WAL mode; once closed, its -wal/-shm are empty leftovers.
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _backup_postgres(settings: Settings, backup_dir: Path, bindir: Path) -> dict[str, Any]:
    _run(
        [
            str(bindir / "pg_basebackup"),
            "-D",
            str(backup_dir),
            "-F",
            "t",
            "-z",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-manifest",
            "-l",
            f"flask ops backup {backup_dir.name}",
        ],
        env=_libpq_env(settings.database_url),
    )
    # Read the manifest's facts from the backup itself, not from the live database.
    with _scratch_server(backup_dir, settings.database_url, bindir) as server:
        engine = create_engine(server.url)
        try:
            return database_facts(engine)
        finally:
            engine.dispose()


@contextlib.contextmanager
def _scratch_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="vm-restore-"))
    user = _server_user()
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _scratch_server(
    backup_dir: Path,
    source_url: str,
    bindir: Path,
    *,
    target_time: datetime | None = None,
    wal_archive: Path | None = None,
) -> Iterator[RestoredServer]:
    with _scratch_dir() as base:
        server = restore_postgres(
            backup_dir,
            base / "data",
            source_url=source_url,
            target_time=target_time,
            wal_archive=wal_archive,
            bindir=bindir,
        )
        try:
            yield server
        finally:
            server.stop()


# --------------------------------------------------------------------------- restore (SQLite)


def restore_sqlite(backup_dir: Path, database: Path, uploads: Path, *, force: bool = False) -> None:
    """Put a SQLite backup back: the database file and the uploaded documents."""
    manifest = read_manifest(backup_dir)
    if manifest["backend"] != "sqlite":
        raise BackupError("this is a PostgreSQL backup; restore it with --to-data-dir")
    problems = verify_checksums(backup_dir, manifest)
    if problems:
        raise BackupError("backup damaged, nothing restored: " + "; ".join(problems))
    if database.exists() and not force:
        raise BackupError(f"{database} exists; stop the app and pass --force to replace it")
    database.parent.mkdir(parents=True, exist_ok=True)
    _drop_sqlite_sidecars(database)  # a stale -wal beside the old file would be replayed
    partial = database.with_name(database.name + ".restoring")
    shutil.copyfile(backup_dir / SQLITE_FILE, partial)
    os.replace(partial, database)
    unpack(backup_dir / UPLOADS_FILE, uploads)


# --------------------------------------------------------------------------- drill


@dataclass
class DrillReport:
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    restored: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@contextlib.contextmanager
def _timed(report: DrillReport, step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.timings[step] = round(time.monotonic() - started, 3)


def _flask(
    args: list[str], settings: Settings, database_url: str, uploads: Path
) -> tuple[int, str]:
    """Run ``flask --app marketplace <args>`` against the restored copy, as an operator would."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "UPLOAD_DIR": str(uploads),
        "INSTANCE_DIR": str(uploads.parent),
        "MARKETPLACE_ENV": settings.env.value,
        "SECRET_KEY": settings.secret_key,
        "LOG_FORMAT": "text",
    }
    env.pop("REDIS_URL", None)  # the copy must not take jobs from the live queue
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "marketplace", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def drill(
    settings: Settings,
    backup_dir: Path,
    *,
    has_audit_verify: bool,
    target_time: datetime | None = None,
    wal_archive: Path | None = None,
    bindir: Path | None = None,
) -> DrillReport:
    """Restore ``backup_dir`` into a scratch place, verify the books, compare the manifest."""
    started = time.monotonic()
    manifest = read_manifest(backup_dir)
    report = DrillReport(manifest["backend"])
    with _timed(report, "checksums"):
        report.problems += verify_checksums(backup_dir, manifest)
    if report.problems:
        report.timings["total"] = round(time.monotonic() - started, 3)
        return report
    with _scratch_dir() as base:
        uploads = base / "uploads"
        with _timed(report, "restore"):
            if report.backend == "sqlite":
                if target_time is not None:
                    raise BackupError(
                        "SQLite backups restore to the moment they were taken; "
                        "point-in-time recovery needs PostgreSQL"
                    )
                database = base / "restored.sqlite3"
                restore_sqlite(backup_dir, database, uploads)
                url = f"sqlite:///{database}"
                server: RestoredServer | None = None
            else:
                unpack(backup_dir / UPLOADS_FILE, uploads)
                server = restore_postgres(
                    backup_dir,
                    base / "data",
                    source_url=settings.database_url,
                    target_time=target_time,
                    wal_archive=wal_archive,
                    bindir=bindir or find_pg_bindir(),
                )
                url = server.url
        try:
            _drill_checks(report, settings, manifest, url, uploads, has_audit_verify, target_time)
        finally:
            if server is not None:
                server.stop()
    report.timings["total"] = round(time.monotonic() - started, 3)
    return report


def _drill_checks(
    report: DrillReport,
    settings: Settings,
    manifest: Mapping[str, Any],
    url: str,
    uploads: Path,
    has_audit_verify: bool,
    target_time: datetime | None,
) -> None:
    with _timed(report, "ledger_verify"):
        code, output = _flask(["ledger", "verify"], settings, url, uploads)
    if code != 0:
        report.problems.append("ledger verify failed on the restored copy:\n" + output.strip())
    # The restored copy is described before `audit verify` runs: verifying seals the records
    # appended since the last seal, which changes the audit head the manifest recorded.
    engine = create_engine(url)
    try:
        facts = database_facts(engine)
    finally:
        engine.dispose()
    if has_audit_verify:
        with _timed(report, "audit_verify"):
            code, output = _flask(["audit", "verify"], settings, url, uploads)
        if code != 0:
            report.problems.append("audit verify failed on the restored copy:\n" + output.strip())
    else:
        report.notes.append("audit verify: not in this release, skipped")
    with _timed(report, "compare"):
        report.restored = facts
        if target_time is not None:
            report.notes.append(
                f"point-in-time restore to {target_time.isoformat()}: the manifest describes "
                "the end of the base backup, so only the books and the schema are checked"
            )
            if facts["schema_revisions"] != manifest["schema_revisions"]:
                report.problems.append("schema revision differs from the backup's")
            return
        for key in ("schema_revisions", "row_counts", "ledger_head", "audit_head"):
            if facts[key] != manifest[key]:
                report.problems.append(
                    f"{key} differs from the manifest: {_diff(manifest[key], facts[key])}"
                )
        restored_uploads = _upload_checksums(uploads)
        if restored_uploads != manifest["uploads"]:
            missing = sorted(set(manifest["uploads"]) - set(restored_uploads))
            report.problems.append(
                f"uploaded documents differ from the manifest (missing {missing})"
            )


def _diff(expected: Any, found: Any) -> str:
    if isinstance(expected, dict) and isinstance(found, dict):
        keys = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        return ", ".join(f"{k}: {expected.get(k)!r} → {found.get(k)!r}" for k in keys[:10])
    return f"{expected!r} → {found!r}"
