"""Issue 17: backups that restore, checked by the drill; point-in-time recovery on PostgreSQL.

Everything goes through the real commands (``flask ops backup / restore / drill``) against
databases with real commits: SQLite files, and a PostgreSQL server of the test's own with WAL
archiving switched on, as production would run it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from marketplace import create_app, migrate
from marketplace.db import create_engine, utcnow
from marketplace.ops import backup as backups
from marketplace.orders.enums import OrderStatus as S
from tests.conftest import IN_CI, app_config
from tests.integration.orders.test_concurrency import _factories
from tests.support import postgres
from tests.support.order_fixtures import OrderWorld


def _confirm_orders(app: Any, url: str, count: int = 1) -> None:
    """Money movements: each order places a voucher hold and captures it, with a report file."""
    engine = create_engine(url)
    try:
        with app.app_context(), Session(engine) as session:
            world = OrderWorld(session, app, **_factories(session))
            for _ in range(count):
                world.create(S.CONFIRMED, now=utcnow())
            session.commit()
    finally:
        engine.dispose()


def _counts(url: str, *tables: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: int(conn.scalar(sa.text(f"SELECT count(*) FROM {t}"))) for t in tables}
    finally:
        engine.dispose()


MONEY_TABLES = ("orders", "voucher_holds", "ledger_transactions", "ledger_entries")


def _cli(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=list(args))
    return result


# --------------------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_app(database, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    if database.backend != "sqlite":
        pytest.skip("the SQLite online-backup path; PostgreSQL has its own tests below")
    url = database.fresh("backup")
    app = create_app(app_config(url, tmp_path))
    yield app, url
    app.extensions["db"].engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_backup_restore_and_drill(sqlite_app, tmp_path: Path) -> None:
    app, url = sqlite_app
    _confirm_orders(app, url, 2)
    uploads = Path(app.config["SETTINGS"].upload_dir)
    documents = sorted(p for p in uploads.rglob("*") if p.is_file())
    assert documents  # the delivery reports

    # A writer keeps going while the backup runs: the copy is still one consistent moment.
    stop = threading.Event()
    writer = threading.Thread(target=_keep_writing, args=(url, stop))
    writer.start()
    try:
        made = _cli(app, "ops", "backup", "--to", str(tmp_path / "backups"))
    finally:
        stop.set()
        writer.join(timeout=60)
    assert made.exit_code == 0, made.output
    [backup_dir] = (tmp_path / "backups").iterdir()
    manifest = backups.read_manifest(backup_dir)
    assert manifest["backend"] == "sqlite"
    assert manifest["schema_revisions"] == sorted(migrate_heads())
    assert manifest["row_counts"]["orders"] == 2
    assert manifest["ledger_head"]["rows"] > 0 and len(manifest["ledger_head"]["sha256"]) == 64
    assert len(manifest["uploads"]) == len(documents)
    assert set(manifest["files"]) == {"database.sqlite3", "uploads.tar.gz"}
    assert oct(backup_dir.stat().st_mode & 0o777) == "0o700"

    drilled = _cli(app, "ops", "drill", str(backup_dir), "--json")
    assert drilled.exit_code == 0, drilled.output
    report = json.loads(drilled.stdout)
    print("sqlite drill timings (s):", report["timings"])  # quoted in the closing note
    assert report["ok"] and report["problems"] == []
    # The audit chain (issue 11) is verified on the restored copy too.
    assert set(report["timings"]) >= {
        "checksums",
        "restore",
        "ledger_verify",
        "audit_verify",
        "compare",
        "total",
    }
    assert report["notes"] == []

    # Restore for real: a new database file and the documents, byte for byte.
    target, restored_uploads = tmp_path / "restored.db", tmp_path / "restored-uploads"
    restored = _cli(
        app,
        "ops",
        "restore",
        str(backup_dir),
        "--to-database",
        str(target),
        "--to-uploads",
        str(restored_uploads),
    )
    assert restored.exit_code == 0, restored.output
    assert _counts(f"sqlite:///{target}", *MONEY_TABLES) == {
        t: manifest["row_counts"][t] for t in MONEY_TABLES
    }
    for document in documents:
        copy = restored_uploads / document.relative_to(uploads)
        assert copy.read_bytes() == document.read_bytes()
    again = _cli(app, "ops", "restore", str(backup_dir), "--to-database", str(target))
    assert again.exit_code != 0 and "--force" in again.output  # never overwrites silently


def _keep_writing(url: str, stop: threading.Event) -> None:
    engine = create_engine(url)
    try:
        n = 0
        while not stop.is_set() and n < 2000:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO outbound_emails (to_address, template, subject, body, "
                        "status, created_at) VALUES ('a@b.cn', 't', 's', 'b', 'queued', :at)"
                    ),
                    {"at": utcnow().replace(tzinfo=None)},
                )
            n += 1
    finally:
        engine.dispose()


def migrate_heads() -> list[str]:
    return list(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_damaged_backup_fails_the_drill_and_is_not_restored(sqlite_app, tmp_path: Path):
    app, url = sqlite_app
    _confirm_orders(app, url)
    assert _cli(app, "ops", "backup", "--to", str(tmp_path / "b")).exit_code == 0
    [backup_dir] = (tmp_path / "b").iterdir()
    database = backup_dir / "database.sqlite3"
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0xFF
    database.write_bytes(bytes(data))

    drilled = _cli(app, "ops", "drill", str(backup_dir))
    assert drilled.exit_code == 1
    assert "database.sqlite3: checksum mismatch" in drilled.output
    target = tmp_path / "restored.db"
    restored = _cli(app, "ops", "restore", str(backup_dir), "--to-database", str(target))
    assert restored.exit_code != 0 and "nothing restored" in restored.output
    assert not target.exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_drill_notices_a_restored_copy_that_differs(sqlite_app, tmp_path: Path, monkeypatch):
    """The comparison itself can fail: a manifest that claims another ledger head."""
    app, url = sqlite_app
    _confirm_orders(app, url)
    assert _cli(app, "ops", "backup", "--to", str(tmp_path / "b")).exit_code == 0
    [backup_dir] = (tmp_path / "b").iterdir()
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    manifest["row_counts"]["orders"] += 1
    (backup_dir / "manifest.json").write_text(json.dumps(manifest))
    drilled = _cli(app, "ops", "drill", str(backup_dir))
    assert drilled.exit_code == 1
    assert "row_counts differs from the manifest: orders: 2 → 1" in drilled.output


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def archived_server(tmp_path: Path) -> Iterator[tuple[postgres.ThrowawayServer, Path]]:
    """A PostgreSQL server archiving its WAL into a directory, as production is set up."""
    bindir = postgres.find_bindir()
    if bindir is None or not (bindir / "pg_basebackup").exists():
        message = "PostgreSQL server programs are needed for base backups and recovery"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip("!!! " + message)
    server = postgres.ThrowawayServer(bindir)
    # Beside the server's data, where its (unprivileged) user may write.
    archive = server.base / "wal-archive"
    archive.mkdir()
    user = postgres._server_user()
    if user is not None:
        os.chown(archive, user.pw_uid, user.pw_gid)
    server.settings.update({"archive_mode": "on", "archive_command": f'"cp %p {archive}/%f"'})
    server.start()
    try:
        yield server, archive
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_base_backup_drill_and_point_in_time_restore(
    backend, archived_server, tmp_path: Path
) -> None:
    server, archive = archived_server
    admin = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
    url = postgres.create_database(admin, "marketplace")
    migrate.upgrade(url)
    app = create_app(app_config(url, tmp_path))
    try:
        _confirm_orders(app, url)  # movement A, before the base backup
        made = _cli(app, "ops", "backup", "--to", str(tmp_path / "backups"))
        assert made.exit_code == 0, made.output
        [backup_dir] = (tmp_path / "backups").iterdir()
        manifest = backups.read_manifest(backup_dir)
        assert manifest["backend"] == "postgresql"
        assert set(manifest["files"]) == {"base.tar.gz", "pg_wal.tar.gz", "uploads.tar.gz"}
        assert manifest["row_counts"]["orders"] == 1

        _confirm_orders(app, url)  # movement B: must survive
        after_b = _counts(url, *MONEY_TABLES)
        moment = utcnow()
        _confirm_orders(app, url)  # movement C: after the moment, must be absent
        after_c = _counts(url, *MONEY_TABLES)
        assert after_c["orders"] == after_b["orders"] + 1
        switched = _cli(app, "ops", "wal-switch")
        assert switched.exit_code == 0, switched.output

        full = _cli(app, "ops", "drill", str(backup_dir), "--json")
        assert full.exit_code == 0, full.output
        report = json.loads(full.stdout)
        print("postgresql drill timings (s):", report["timings"])  # quoted in the closing note
        assert report["ok"], report
        assert {t: report["row_counts"][t] for t in MONEY_TABLES} == {
            t: manifest["row_counts"][t] for t in MONEY_TABLES
        }

        pitr = _cli(
            app,
            "ops",
            "drill",
            str(backup_dir),
            "--json",
            "--to-time",
            moment.isoformat(),
            "--wal-archive",
            str(archive),
        )
        assert pitr.exit_code == 0, pitr.output
        report = json.loads(pitr.stdout)
        print("postgresql point-in-time drill timings (s):", report["timings"])
        assert report["ok"], report  # ledger verify passed on the restored copy
        assert {t: report["row_counts"][t] for t in MONEY_TABLES} == after_b

        # The operator's restore: a server of its own, to the same moment.
        data_dir = archive.parent / "restored-data"  # where the server user may go
        restored = _cli(
            app,
            "ops",
            "restore",
            str(backup_dir),
            "--to-data-dir",
            str(data_dir),
            "--to-time",
            moment.isoformat(),
            "--wal-archive",
            str(archive),
            "--to-uploads",
            str(tmp_path / "restored-uploads"),
        )
        assert restored.exit_code == 0, restored.output
        restored_url = restored.output.split("restored server running: ")[1].split(" ")[0]
        try:
            assert _counts(restored_url, *MONEY_TABLES) == after_b
        finally:
            port = int(restored_url.rsplit(":", 1)[1].split("/")[0])
            backups.RestoredServer(
                backups.find_pg_bindir(), data_dir, port, "marketplace", "postgres"
            ).stop()
    finally:
        app.extensions["db"].engine.dispose()


def test_a_bare_time_is_refused(app):
    result = _cli(app, "ops", "drill", str(Path(__file__).parent), "--to-time", "2026-12-06T10:00")
    assert result.exit_code != 0
    assert "offset" in result.output or "manifest.json" in result.output
