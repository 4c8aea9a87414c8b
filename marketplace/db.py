"""Database layer: the declarative base, shared column types, engines and the unit of work.

The rule of the house: **services flush, never commit**. Exactly one place commits:

* a web request — :func:`Database.init_app` commits after a successful response and rolls back
  otherwise, before the response leaves the process. Successful means a status below 400 *and*
  no domain error raised during the request that nobody recovered from
  (:mod:`marketplace.errors`): a view that catches one to flash it needs no rollback of its
  own. Once such an error was raised, the request's changes are undone before any page is
  rendered, so a form shown again with its error shows the records as they are, not as the
  failed attempt left them in memory;
* a CLI command — :func:`transactional_command` wraps the command body;
* a background job — :func:`run_in_transaction`.

Side effects that must follow persistence (e-mail, outbound payment calls) are queued on the
session with :func:`after_commit` and run only once the commit succeeded.

On PostgreSQL the transaction itself begins lazily (:func:`begin_transactions_lazily`): a unit
of work's plain reads run in autocommit until its first write or locking read, and psycopg sends
BEGIN just before that statement. A request that only reads (the wallet, the order list, a
search) sends neither BEGIN nor COMMIT; one that writes has everything from its first write on
in one transaction, committed or rolled back as above.

Read-only views (search, public statistics, dashboards) are marked :func:`reads_replica`:
with ``DATABASE_REPLICA_URL`` set, the session they use inside the view reads a streaming
replica, in READ ONLY mode (a write would begin a READ ONLY transaction and fail); while the
replica does not answer, the same READ ONLY session runs on the primary instead (README,
"Scale-out").
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import psycopg
import sqlalchemy as sa
from flask import Flask, before_render_template, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from marketplace.errors import FailureWatch

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Integer primary keys: BIGINT on PostgreSQL, but SQLite only auto-increments ``INTEGER``.
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zones and hands back naive values; we store UTC and re-attach the zone,
    and refuse naive datetimes on the way in so local times never sneak into the database.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigInt, datetime: UTCDateTime(), str: sa.String(255)}


class IdMixin:
    id: Mapped[int] = mapped_column(BigInt, primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def enum_column(enum_cls: type[enum.Enum], name: str, **kwargs: Any) -> Any:
    """A column storing ``enum_cls`` by *value*, constrained by a named CHECK on every backend."""
    return mapped_column(
        sa.Enum(
            enum_cls,
            name=name,
            native_enum=False,
            create_constraint=True,
            validate_strings=True,
            length=max(len(str(m.value)) for m in enum_cls) + 8,
            values_callable=lambda e: [str(m.value) for m in e],
        ),
        **kwargs,
    )


def money_column(**kwargs: Any) -> Any:
    """Integer fen. Callers add CHECK constraints for sign on the table."""
    return mapped_column(sa.BigInteger, **kwargs)


# --------------------------------------------------------------------------- engines


#: Execution option of a read-only session's connections (see Database.read_only_session).
READ_ONLY = "marketplace_read_only"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN/SAVEPOINT are ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # SQLite ignores SELECT … FOR UPDATE. Taking the write lock when the transaction starts
        # makes every transaction serialisable against writers, so check-then-act is safe and
        # two writers never deadlock on a lock upgrade. A read-only session (a long export)
        # takes no lock: under WAL it reads its snapshot while others write.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


#: What makes a read belong inside the transaction: a row lock (held until the transaction ends),
#: a write in a common table expression, or a function whose effect is scoped to the transaction
#: (``pg_advisory_xact_lock``, ``set_config(…, true)``, a transaction id).
_NEEDS_TRANSACTION = re.compile(
    r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b"
    r"|\b(?:INSERT|UPDATE|DELETE|MERGE)\b"
    r"|_xact_|\bset_config\b|\btxid_current\b",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1024)
def reads_outside_transaction(statement: str) -> bool:
    """Whether ``statement`` may run before its unit of work's transaction has begun: a plain
    SELECT (or a WITH … SELECT) that locks nothing and writes nothing. Anything else — a write,
    a locking read, a SAVEPOINT, SET, a statement not recognised — begins the transaction
    first, so a misreading can only cost a BEGIN, never atomicity. (Cached: the ORM sends the
    same few hundred statement strings over and over.)"""
    words = statement.split(None, 1)
    verb = words[0].upper() if words else ""
    return verb in ("SELECT", "WITH") and not _NEEDS_TRANSACTION.search(statement)


_LAZY_BEGIN = "marketplace_lazy_begin"


def begin_transactions_lazily(engine: Engine) -> None:
    """Let each transaction on ``engine`` (psycopg) begin at its first write or locking read.

    Why: a BEGIN and a COMMIT are two round trips; for the reads an SME sends most (wallet,
    order list, search) they were two of four or five. On loopback they cost little (the A/B in
    README, "Performance", measured no difference outside the noise); to a database on another
    host each is a network round trip in the request's time. Under READ COMMITTED each
    statement reads its own snapshot whether or not a transaction is open, and a plain SELECT
    holds nothing a transaction would keep, so running the reads that come before the first
    write in autocommit changes no result. From
    the first write (or ``SELECT … FOR UPDATE``, SAVEPOINT, an advisory transaction lock, a
    server-side cursor) on, psycopg sends BEGIN and the unit of work commits or rolls back as
    before; a unit of work that never wrote has nothing to commit, and psycopg sends nothing.
    A connection asked for an isolation level (AUTOCOMMIT for VACUUM, or a snapshot that must
    cover every read) is left as SQLAlchemy set it. The pool gets each connection back in
    psycopg's own mode, so nothing else ever meets one left in autocommit.
    """

    @event.listens_for(engine, "begin")
    def _start_in_autocommit(conn: Connection) -> None:
        driver_conn = conn.connection.dbapi_connection
        assert isinstance(driver_conn, psycopg.Connection)
        lazy = (
            "isolation_level" not in conn.get_execution_options()
            and driver_conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
        )
        if lazy:
            driver_conn.autocommit = True  # no round trip: psycopg only stops sending BEGIN
        conn.info[_LAZY_BEGIN] = lazy

    @event.listens_for(engine.pool, "checkin")
    def _back_to_the_drivers_mode(driver_conn: Any, record: Any) -> None:
        idle = psycopg.pq.TransactionStatus.IDLE
        left_in_autocommit = record.info.pop(_LAZY_BEGIN, False) and driver_conn is not None
        if left_in_autocommit and driver_conn.info.transaction_status is idle:
            driver_conn.autocommit = False

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_first_write(
        conn: Connection, cursor: Any, statement: str, *_args: Any
    ) -> None:
        if not conn.info.get(_LAZY_BEGIN):
            return
        # A server-side cursor (yield_per) lives only inside a transaction.
        if reads_outside_transaction(statement) and not isinstance(cursor, psycopg.ServerCursor):
            return
        conn.info[_LAZY_BEGIN] = False
        driver_conn = conn.connection.dbapi_connection
        assert driver_conn is not None
        driver_conn.autocommit = False  # psycopg sends BEGIN before this statement


def create_engine(url: str, *, echo: bool = False, replica: bool = False) -> Engine:
    # hide_parameters: a database error's message (and so its log line) never carries the
    # statement's values, which may be phone numbers, bank accounts or tokens (rule 11).
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False}
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it would be a round trip on every checkout, i.e. on every request. After a
    # database restart the statement that meets a dead connection fails (503 + Retry-After),
    # SQLAlchemy invalidates the whole pool, and the next checkout connects afresh: the app
    # reconnects by itself (tests/integration/test_faults.py). LIFO keeps few connections warm.
    engine = sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=10,
        max_overflow=20,
        pool_recycle=3600,
        pool_use_lifo=True,
        # The replica alone is pinged at checkout: a read that finds it gone is served by the
        # primary instead of failing (Database.session), and its reads are cheap ones.
        pool_pre_ping=replica,
    )
    begin_transactions_lazily(engine)
    return engine


#: Errors meaning "the database is not reachable now", not "this request is wrong".
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def database_unavailable(exc: BaseException | None) -> bool:
    if isinstance(exc, UNAVAILABLE):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


# --------------------------------------------------------------------------- unit of work

_AFTER_COMMIT_KEY = "after_commit_callbacks"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed; drop it on rollback."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


_AFTER_RESPONSE_KEY = "_after_response_callbacks"


def after_response(callback: Callable[[], None]) -> None:
    """Run ``callback`` in the application's context once the current request's response has
    been sent (the WSGI server closes it); call it only after the request's commit."""
    g.setdefault(_AFTER_RESPONSE_KEY, []).append(callback)


def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        callback()


def _discard_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT_KEY, None)


def commit(session: Session) -> None:
    """Commit the unit of work, then run the side effects queued for after the commit."""
    session.commit()
    _run_after_commit(session)


def rollback(session: Session) -> None:
    session.rollback()
    _discard_after_commit(session)


def _run_after_response(app: Flask, callbacks: list[Callable[[], None]]) -> None:
    with app.app_context():
        for callback in callbacks:
            callback()


#: How long a replica that did not answer is left alone before it is tried again.
REPLICA_RETRY_SECONDS = 30.0
_REPLICA_KEY = "_db_replica_session"


class Database:
    """Owns the engines and hands out one session per application context (and, inside a
    :func:`reads_replica` view, a read-only one on the replica)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.replica_engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._replica_factory: sessionmaker[Session] | None = None
        self._replica_down_until = 0.0

    def init_app(
        self, app: Flask, url: str, *, echo: bool = False, replica_url: str | None = None
    ) -> None:
        self.engine = create_engine(url, echo=echo)
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        if replica_url:
            self.replica_engine = create_engine(replica_url, echo=echo, replica=True)
            self._replica_factory = sessionmaker(
                bind=self.replica_engine.execution_options(postgresql_readonly=True),
                expire_on_commit=False,
            )
        app.extensions["db"] = self

        @app.before_request
        def _watch_domain_errors() -> None:
            g._failure_watch = FailureWatch()

        @app.after_request
        def _commit_unit_of_work(response: Any) -> Any:
            watch: FailureWatch | None = g.pop("_failure_watch", None)
            failed = watch is not None and watch.failed
            if watch is not None:
                watch.close()
            session: Session | None = g.pop("_db_session", None)
            reader: Session | None = g.pop(_REPLICA_KEY, None)
            try:
                if session is not None:
                    if response.status_code < 400 and not failed:
                        commit(session)
                    else:
                        rollback(session)
                if reader is not None:  # read only: nothing to commit
                    reader.rollback()
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                # The connection died at the commit: answered here by the app's own 503
                # handler, the same in tests as in production (where Flask would otherwise
                # wrap it in a 500). The first attempt may have committed just before; a retry
                # with its Idempotency-Key then has its effect once. Nothing follows it.
                return app.make_response(app.handle_user_exception(exc))
            finally:
                for opened in (session, reader):
                    if opened is not None:
                        opened.close()
            # Taken only now: the commit's own after-commit callbacks (the inline e-mail job
            # among them) are what defer work to after the response.
            deferred: list[Callable[[], None]] = g.pop(_AFTER_RESPONSE_KEY, [])
            if deferred:
                response.call_on_close(functools.partial(_run_after_response, app, deferred))
            return response

        @before_render_template.connect_via(app)
        def _undo_failed_changes(_app: Flask, **_extra: Any) -> None:
            watch: FailureWatch | None = g.get("_failure_watch")
            session: Session | None = g.get("_db_session")
            if watch is not None and watch.failed and session is not None:
                rollback(session)

        @app.teardown_request
        def _stop_watching(_exc: BaseException | None) -> None:
            watch: FailureWatch | None = g.pop("_failure_watch", None)
            if watch is not None:  # the request ended in an exception, before after_request
                watch.close()

        @app.teardown_appcontext
        def _close_session(_exc: BaseException | None) -> None:
            session: Session | None = g.pop("_db_session", None)
            if session is not None:
                rollback(session)
                session.close()
            reader: Session | None = g.pop(_REPLICA_KEY, None)
            if reader is not None:
                reader.rollback()
                reader.close()

    def bind_to(self, connection: Connection) -> None:
        """Tests: make every session join ``connection``'s transaction through savepoints."""
        self._factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def read_only_session(self) -> Session:
        """A session for long reads (a background export). On SQLite its transaction begins
        without the write lock every other transaction takes, so that the job's progress
        (written in transactions of its own) and everybody else's work go on meanwhile; it
        must write nothing. Elsewhere (and in tests) an ordinary session."""
        engine: Engine | None = self.engine
        if self._factory is None or engine is None:
            raise RuntimeError("Database.init_app was not called")
        bound_to_engine = self._factory.kw.get("bind") is engine
        if not bound_to_engine or engine.dialect.name != "sqlite":
            return self._factory()
        return Session(bind=engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    def new_session(self) -> Session:
        if self._factory is None:
            raise RuntimeError("Database.init_app was not called")
        return self._factory()

    @property
    def session(self) -> Session:
        """The current application context's session (created on first use); inside a
        :func:`reads_replica` view with a replica configured, the read-only one."""
        if g.get("_db_reads_replica") and self._replica_factory is not None:
            return self._reader()
        session: Session | None = g.get("_db_session")
        if session is None:
            session = self.new_session()
            g._db_session = session
        return session

    def _reader(self) -> Session:
        """A READ ONLY session on the replica, or on the primary while the replica does
        not answer (then retried after REPLICA_RETRY_SECONDS)."""
        reader: Session | None = g.get(_REPLICA_KEY)
        if reader is not None:
            return reader
        assert self._replica_factory is not None and self.engine is not None
        if time.monotonic() >= self._replica_down_until:
            reader = self._replica_factory()
            try:
                reader.connection()  # check out (pinged) and begin now, not mid-query
            except sa.exc.DBAPIError as exc:
                reader.close()
                reader = None
                self._replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
                log.warning(
                    "replica unavailable, reading from the primary for %.0f s: %s",
                    REPLICA_RETRY_SECONDS,
                    type(exc.orig).__name__,
                )
        if reader is None:
            reader = Session(
                bind=self.engine.execution_options(postgresql_readonly=True),
                expire_on_commit=False,
            )
        g._db_replica_session = reader
        return reader


def reads_replica(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view read-only: what it reads through :func:`db_session` comes from the replica
    (``DATABASE_REPLICA_URL``) in READ ONLY mode, so a write there fails rather than
    diverging. Authentication before the view (and its throttled last-used stamp) still uses
    the primary. Without a replica this changes nothing."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g._db_reads_replica = True
        try:
            return view(*args, **kwargs)
        finally:
            g._db_reads_replica = False

    return wrapper


def get_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db


def db_session() -> Session:
    """The session of the current request / command / job."""
    return get_db().session


@contextmanager
def unit_of_work(database: Database | None = None) -> Iterator[Session]:
    """A standalone transaction: commit on success, roll back on any error."""
    session = (database or get_db()).new_session()
    try:
        yield session
        commit(session)
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()


def transactional_command(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a CLI command: one transaction, committed if the command returns normally."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = db_session()
        try:
            result = func(*args, **kwargs)
            commit(session)
            return result
        except BaseException:
            rollback(session)
            raise
        finally:
            g.pop("_db_session", None)
            session.close()

    return wrapper


def run_in_transaction(func: Callable[[Session], R]) -> R:
    """Run a background job body in its own transaction."""
    with unit_of_work() as session:
        return func(session)
