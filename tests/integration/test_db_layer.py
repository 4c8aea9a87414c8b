"""The database layer behaves the same on SQLite and PostgreSQL."""

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from marketplace.db import after_commit, commit, create_engine, rollback, unit_of_work
from vouchers.models import Enterprise


def test_enum_columns_are_checked_by_the_database(session, create_enterprise):
    enterprise = create_enterprise()
    with pytest.raises(IntegrityError) as info, session.begin_nested():
        session.execute(
            sa.text("UPDATE enterprises SET size_class = 'gigantic' WHERE id = :id"),
            {"id": enterprise.id},
        )
    assert "ck_enterprises_size_class" in str(info.value)


def test_enums_are_stored_by_value(session, create_enterprise):
    enterprise = create_enterprise()
    stored = session.execute(
        sa.text("SELECT size_class, verification_status FROM enterprises WHERE id = :id"),
        {"id": enterprise.id},
    ).one()
    assert tuple(stored) == ("small", "verified")


def test_foreign_keys_are_enforced(session):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            sa.text(
                "INSERT INTO users (email, password_hash, display_name, role, is_active,"
                " enterprise_id, created_at) VALUES ('x@y.cn', 'h', 'n', 'enterprise', true,"
                " 999999, CURRENT_TIMESTAMP)"
            )
        )


def test_naive_datetimes_are_refused(session, create_enterprise):
    enterprise = create_enterprise()
    enterprise.updated_at = datetime(2026, 1, 1)  # no zone
    with pytest.raises(StatementError):
        session.flush()
    session.rollback()


def test_datetimes_come_back_aware_utc(session, create_enterprise):
    enterprise = create_enterprise()
    session.expire_all()
    loaded = session.get(Enterprise, enterprise.id)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset().total_seconds() == 0


def test_sqlite_is_configured_properly(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_postgresql_pool_recovers_from_dropped_connections_without_pre_ping(pg_admin_url):
    """No ping per checkout (a round trip on every request): a connection the server dropped
    fails the one statement that meets it, SQLAlchemy then invalidates the whole pool, and the
    next checkout gets a fresh connection."""
    engine = create_engine(pg_admin_url)
    assert engine.pool._pre_ping is False
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        killer = create_engine(pg_admin_url)
        try:
            with killer.connect() as conn:
                assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar()
        finally:
            killer.dispose()
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    finally:
        engine.dispose()


def _transaction_status(conn: Connection) -> str:
    return conn.connection.dbapi_connection.info.transaction_status.name


def test_postgresql_transactions_begin_at_the_first_write(pg_admin_url):
    """Lazy BEGIN: a unit of work's plain reads run in autocommit; its first write, locking read,
    SAVEPOINT, advisory transaction lock or server-side cursor begins the transaction, which
    then commits or rolls back whole, and keeps its locks to the end. An AUTOCOMMIT connection
    stays one."""
    engine, observer = create_engine(pg_admin_url), create_engine(pg_admin_url)
    table = f"lazy_begin_{uuid.uuid4().hex[:8]}"

    def seen_by_another() -> list[tuple[int, int]]:
        with observer.connect() as other:
            return [
                tuple(r) for r in other.exec_driver_sql(f"SELECT id, n FROM {table} ORDER BY id")
            ]

    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL)")
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 0)")

        with Session(engine) as s:
            assert s.execute(sa.text(f"SELECT n FROM {table}")).scalar() == 0
            assert _transaction_status(s.connection()) == "IDLE"  # read in autocommit
            s.execute(sa.text(f"UPDATE {table} SET n = 1"))
            assert _transaction_status(s.connection()) == "INTRANS"
            assert seen_by_another() == [(1, 0)]  # not committed yet
            with pytest.raises(IntegrityError):
                s.execute(sa.text(f"INSERT INTO {table} VALUES (1, 2)"))
            s.rollback()
        assert seen_by_another() == [(1, 0)]  # the write before the failure is undone too

        # A connection that served only reads goes back to the pool and comes out again: its
        # next unit of work still begins at its first write (not left in autocommit), and a
        # READ ONLY one still refuses to write.
        with Session(engine) as s:
            reader_pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with Session(engine.execution_options(postgresql_readonly=True)) as s:
            assert s.execute(sa.text("SELECT pg_backend_pid()")).scalar() == reader_pid
            with pytest.raises(sa.exc.DBAPIError) as refused:
                s.execute(sa.text(f"UPDATE {table} SET n = 9"))
            assert refused.value.orig.sqlstate == "25006"  # read_only_sql_transaction
        with Session(engine) as s:
            assert s.execute(sa.text("SELECT pg_backend_pid()")).scalar() == reader_pid
            s.execute(sa.text(f"INSERT INTO {table} VALUES (2, 2)"))
            assert _transaction_status(s.connection()) == "INTRANS"
            s.execute(sa.text(f"UPDATE {table} SET n = 3 WHERE id = 1"))
            s.commit()
        assert seen_by_another() == [(1, 3), (2, 2)]

        # A locking read begins the transaction, and its row lock lasts until the commit.
        with Session(engine) as s:
            s.execute(sa.text(f"SELECT n FROM {table} WHERE id = 1 FOR UPDATE"))
            assert _transaction_status(s.connection()) == "INTRANS"
            with observer.connect() as other, pytest.raises(sa.exc.OperationalError):
                other.exec_driver_sql(f"SELECT n FROM {table} WHERE id = 1 FOR UPDATE NOWAIT")
            s.commit()
        with observer.connect() as other:
            other.exec_driver_sql(f"SELECT n FROM {table} WHERE id = 1 FOR UPDATE NOWAIT")

        for begins in (
            lambda s: s.execute(sa.text("SELECT pg_advisory_xact_lock(424242)")),
            lambda s: s.begin_nested(),
            lambda s: s.execute(
                sa.text(f"SELECT id FROM {table}").execution_options(yield_per=1)
            ).all(),
        ):
            with Session(engine) as s:
                begins(s)
                assert _transaction_status(s.connection()) == "INTRANS"

        # Asked for AUTOCOMMIT, a connection keeps it: a write commits at once, and VACUUM
        # (refused inside a transaction block) runs.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"UPDATE {table} SET n = 5 WHERE id = 2")
            assert _transaction_status(conn) == "IDLE"
            assert seen_by_another() == [(1, 3), (2, 5)]
            conn.exec_driver_sql(f"VACUUM {table}")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()
        observer.dispose()


def test_sqlite_transactions_take_the_write_lock_up_front(tmp_path):
    """BEGIN IMMEDIATE: a second writer cannot even start while the first is open, so a
    check-then-act inside one transaction cannot interleave with another writer."""
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first_engine, second_engine = create_engine(url), create_engine(url)
    try:
        with first_engine.connect() as first, second_engine.connect() as second:
            first.begin()
            # Straight to the driver: a SQLAlchemy execute would itself begin a transaction.
            second.connection.dbapi_connection.execute("PRAGMA busy_timeout = 0")
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                second.begin()
            first.rollback()
    finally:
        first_engine.dispose()
        second_engine.dispose()


def test_after_commit_callbacks_run_only_after_commit(database):
    engine = create_engine(database.url)
    ran: list[str] = []
    try:
        with Session(engine) as s:
            after_commit(s, lambda: ran.append("rolled back"))
            rollback(s)
            after_commit(s, lambda: ran.append("committed"))
            assert ran == []
            commit(s)
        assert ran == ["committed"]
    finally:
        engine.dispose()


def test_unit_of_work_rolls_back_on_error(app, session, create_enterprise):
    enterprise = create_enterprise()
    database = app.extensions["db"]
    with pytest.raises(RuntimeError), unit_of_work(database) as s:
        s.get(Enterprise, enterprise.id).name = "changed"
        s.flush()
        raise RuntimeError("boom")
    session.expire_all()
    assert session.get(Enterprise, enterprise.id).name != "changed"
