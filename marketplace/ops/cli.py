"""``flask ops …``: backup, restore, the restore drill, and closing the current WAL segment."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.clock import local_date
from marketplace.config import current_settings
from marketplace.db import db_session, transactional_command, utcnow
from marketplace.ops import backup as backups

ops_cli = AppGroup("ops", help="Operations: backups, restores and the restore drill.")


def _moment(value: str | None) -> datetime | None:
    """An ISO-8601 time with its offset (``2026-12-06T14:30:00+08:00``): a bare time would
    be ambiguous between Beijing time and UTC, so it is refused."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            "give the offset too, e.g. 2026-12-06T14:30:00+08:00 (Beijing) or …Z (UTC)"
        )
    return moment


def _fail(exc: backups.BackupError) -> click.ClickException:
    return click.ClickException(str(exc))


@ops_cli.command("backup")
@click.option(
    "--to",
    "root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="directory to put the backup in (a new sub-directory per backup)",
)
@click.option("--pg-bindir", default=None, help="PostgreSQL programs (default: found on PATH)")
def backup_command(root: Path, pg_bindir: str | None) -> None:
    """Back up the database and the uploaded documents, with a checksummed manifest."""
    settings = current_settings()
    try:
        result = backups.backup(
            settings, root, bindir=backups.find_pg_bindir(pg_bindir) if pg_bindir else None
        )
    except backups.BackupError as exc:
        raise _fail(exc) from None
    manifest = result.manifest
    click.echo(f"backup written to {result.directory} in {result.seconds:.1f} s")
    click.echo(
        f"  {manifest['backend']}, schema {', '.join(manifest['schema_revisions'])}, "
        f"{sum(manifest['row_counts'].values())} rows, "
        f"{manifest['ledger_head']['rows']} ledger rows, {len(manifest['uploads'])} documents"
    )


@ops_cli.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--to-database",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite: the database file to write",
)
@click.option(
    "--to-uploads",
    type=click.Path(file_okay=False, path_type=Path),
    help="where to put the uploaded documents (default: UPLOAD_DIR)",
)
@click.option("--force", is_flag=True, help="SQLite: replace an existing database file")
@click.option(
    "--to-data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="PostgreSQL: a new data directory for the restored server",
)
@click.option("--port", type=int, default=None, help="PostgreSQL: the restored server's port")
@click.option("--to-time", default=None, help="PostgreSQL: recover to this moment (ISO-8601)")
@click.option(
    "--wal-archive",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="PostgreSQL: the WAL archive (archive_command's directory)",
)
@click.option("--pg-bindir", default=None)
def restore_command(
    backup_dir: Path,
    to_database: Path | None,
    to_uploads: Path | None,
    force: bool,
    to_data_dir: Path | None,
    port: int | None,
    to_time: str | None,
    wal_archive: Path | None,
    pg_bindir: str | None,
) -> None:
    """Restore BACKUP_DIR: SQLite into a file, PostgreSQL into a new server (to a point in time
    with --to-time and --wal-archive). Checksums are verified first; nothing is touched when a
    file is damaged."""
    settings = current_settings()
    uploads = to_uploads or settings.upload_dir
    try:
        manifest = backups.read_manifest(backup_dir)
        if manifest["backend"] == "sqlite":
            if to_database is None:
                raise click.UsageError("a SQLite backup needs --to-database")
            backups.restore_sqlite(backup_dir, to_database, uploads, force=force)
            click.echo(f"restored {to_database} and the documents into {uploads}")
            return
        if to_data_dir is None:
            raise click.UsageError("a PostgreSQL backup needs --to-data-dir")
        problems = backups.verify_checksums(backup_dir, manifest)
        if problems:
            raise backups.BackupError("backup damaged, nothing restored: " + "; ".join(problems))
        server = backups.restore_postgres(
            backup_dir,
            to_data_dir,
            source_url=settings.database_url,
            port=port,
            target_time=_moment(to_time),
            wal_archive=wal_archive,
            bindir=backups.find_pg_bindir(pg_bindir),
        )
        backups.unpack(backup_dir / backups.UPLOADS_FILE, uploads)
    except backups.BackupError as exc:
        raise _fail(exc) from None
    click.echo(f"restored server running: {server.url} (data directory {server.data_dir})")
    click.echo(f"documents restored into {uploads}")


def has_audit_verify() -> bool:
    """``flask audit verify`` arrives with the audit chain (issue 11); until then the drill
    says it skipped it."""
    group = current_app.cli.commands.get("audit")
    return isinstance(group, click.Group) and "verify" in group.commands


@ops_cli.command("drill")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to-time", default=None, help="PostgreSQL: drill a point-in-time restore")
@click.option(
    "--wal-archive", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None
)
@click.option("--pg-bindir", default=None)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def drill_command(
    backup_dir: Path,
    to_time: str | None,
    wal_archive: Path | None,
    pg_bindir: str | None,
    as_json: bool,
) -> None:
    """Restore BACKUP_DIR into a scratch database, run `ledger verify` (and `audit verify`
    when this release has it), compare with the manifest; exit 1 on any difference."""
    settings = current_settings()
    try:
        report = backups.drill(
            settings,
            backup_dir,
            has_audit_verify=has_audit_verify(),
            target_time=_moment(to_time),
            wal_archive=wal_archive,
            bindir=backups.find_pg_bindir(pg_bindir) if pg_bindir else None,
        )
    except backups.BackupError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "backend": report.backend,
                    "timings": report.timings,
                    "problems": report.problems,
                    "notes": report.notes,
                    "row_counts": report.restored.get("row_counts"),
                },
                ensure_ascii=False,
            )
        )
    else:
        for step, seconds in report.timings.items():
            click.echo(f"  {step:<14} {seconds:8.2f} s")
        for note in report.notes:
            click.echo(f"  note: {note}")
        for problem in report.problems:
            click.echo(f"  FAIL: {problem}")
        click.echo("drill passed" if report.ok else "drill FAILED")
    if not report.ok:
        raise SystemExit(1)


@ops_cli.command("wal-switch")
def wal_switch_command() -> None:
    """PostgreSQL: close the current WAL segment and wait until it is archived, so every
    commit so far can be recovered from the archive."""
    settings = current_settings()
    if settings.is_sqlite:
        raise click.ClickException("SQLite has no WAL archive; take a backup instead")
    try:
        segment = backups.archive_current_wal(settings.database_url)
    except backups.BackupError as exc:
        raise _fail(exc) from None
    click.echo(f"archived WAL segment {segment}")


def _each_table(tables: tuple[str, ...], year: int | None, step: str) -> None:
    """Run ``partitioning.<step>`` on each named table (default: both), in one transaction."""
    from marketplace.ops import partitioning

    year = year or local_date(utcnow()).year
    connection = db_session().connection()
    for name in tables or tuple(partitioning.TABLES):
        try:
            made = getattr(partitioning, step)(connection, name, year)
        except partitioning.PartitioningError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{name}: " + ", ".join(p.name for p in made))


@ops_cli.command("partition")
@click.argument("tables", nargs=-1)
@click.option("--year", type=int, default=None, help="the year new rows start (default: this year)")
@transactional_command
def partition_command(tables: tuple[str, ...], year: int | None) -> None:
    """PostgreSQL: partition the append-only tables (default: both) by year, in place."""
    _each_table(tables, year, "partition")


@ops_cli.command("partition-roll")
@click.argument("tables", nargs=-1)
@click.option("--year", type=int, default=None, help="the year to open (default: this year)")
@transactional_command
def partition_roll_command(tables: tuple[str, ...], year: int | None) -> None:
    """PostgreSQL: close the open partition and open the year's (cron: 1 January)."""
    _each_table(tables, year, "roll")
