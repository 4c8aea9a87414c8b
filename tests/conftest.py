"""Test harness: every database test runs on SQLite *and* PostgreSQL.

* ``backend`` is a session-scoped parameter, so a test that touches the database (through
  ``session``, ``app``, ``client`` …) is collected once per backend: ``test_x[sqlite]`` and
  ``test_x[postgresql]``.
* Each backend is migrated once per worker (Alembic, the real migrations) into a template;
  each test then runs inside an outer transaction that is rolled back at the end, with the
  code under test working in savepoints (``join_transaction_mode="create_savepoint"``).
* ``fresh_database`` gives a separate, migrated, empty database with real commits for tests
  that need several connections (concurrency, live server, migrations).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from marketplace import create_app, migrate
from marketplace.db import create_engine
from tests.support import postgres

BACKENDS = ("sqlite", "postgresql")
IN_CI = os.environ.get("CI", "").lower() == "true"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_BACKEND_IN_ID = re.compile(r"\[(?:[^\]]*-)?(sqlite|postgresql)(?:-[^\]]*)?\]")


# --------------------------------------------------------------------------- reporting


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = postgres.plan()
    lines = ["database backends: sqlite (file, WAL), postgresql (" + pg.detail + ")"]
    if pg.source == "unavailable":
        verdict = "FAIL (CI=true requires PostgreSQL)" if IN_CI else "SKIPPED"
        lines.append(f"!!! PostgreSQL tests will be {verdict}: {pg.detail}")
    return lines


_outcomes: Counter[tuple[str, str]] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        match = _BACKEND_IN_ID.search(report.nodeid)
        backend = match.group(1) if match else "no database"
        _outcomes[(backend, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _outcomes:
        return
    terminalreporter.section("tests per database backend")
    for backend in ("sqlite", "postgresql", "no database"):
        counts = {o: n for (b, o), n in _outcomes.items() if b == backend}
        if counts:
            parts = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            terminalreporter.write_line(f"{backend:>12}: {parts}")
    skipped_pg = _outcomes.get(("postgresql", "skipped"), 0)
    if skipped_pg:
        terminalreporter.write_line(
            f"!!! {skipped_pg} PostgreSQL tests were SKIPPED: {postgres.plan().detail}", red=True
        )


# --------------------------------------------------------------------------- databases


@dataclass
class TestDatabase:
    """One backend's databases for this worker."""

    backend: str
    url: str
    engine: Engine
    _new: Callable[[str], str]
    _drop: Callable[[str], None]
    _fresh: list[str] = field(default_factory=list)

    def fresh(self, label: str) -> str:
        """A new migrated, empty database (real commits allowed); returns its URL."""
        name = f"{label}_{len(self._fresh)}"
        self._fresh.append(name)
        return self._new(name)

    def cleanup(self) -> None:
        self.engine.dispose()
        for name in self._fresh:
            self._drop(name)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    plan = postgres.plan()
    if plan.source == "unavailable":
        message = f"PostgreSQL unavailable: {plan.detail}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)
    if plan.source == "TEST_DATABASE_URL":
        yield os.environ["TEST_DATABASE_URL"]
        return
    bindir = postgres.find_bindir()
    assert bindir is not None
    server = postgres.ThrowawayServer(bindir)
    try:
        yield server.start()
    finally:
        server.stop()


def _sqlite_database(tmp: Path) -> TestDatabase:
    template = tmp / "template.db"
    migrate.upgrade(f"sqlite:///{template}")

    def new(name: str) -> str:
        target = tmp / f"{name}.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"

    def drop(name: str) -> None:
        for suffix in (".db", ".db-wal", ".db-shm"):
            (tmp / f"{name}{suffix}").unlink(missing_ok=True)

    url = new("main")
    return TestDatabase("sqlite", url, create_engine(url), new, drop)


def _postgres_database(admin_url: str) -> TestDatabase:
    prefix = f"vm_{WORKER}_{os.getpid()}"
    template = f"{prefix}_template"
    migrate.upgrade(postgres.create_database(admin_url, template))

    def new(name: str) -> str:
        return postgres.create_database(admin_url, f"{prefix}_{name}", template=template)

    def drop(name: str) -> None:
        postgres.drop_database(admin_url, f"{prefix}_{name}")

    url = new("main")
    db = TestDatabase("postgresql", url, create_engine(url), new, drop)
    db._fresh.append("main")
    original_cleanup = db.cleanup

    def cleanup() -> None:
        original_cleanup()
        postgres.drop_database(admin_url, template)

    db.cleanup = cleanup  # type: ignore[method-assign]
    return db


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database(backend: str, request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="vm-sqlite-"))
        db = _sqlite_database(tmp)
        yield db
        db.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        admin_url = request.getfixturevalue("pg_admin_url")
        db = _postgres_database(admin_url)
        yield db
        db.cleanup()


@pytest.fixture
def engine(database: TestDatabase) -> Engine:
    return database.engine


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()


# --------------------------------------------------------------------------- application


def app_config(database_url: str, tmp: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "MARKETPLACE_ENV": "testing",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-with-enough-length-0123456789",
        "INSTANCE_DIR": str(tmp / "instance"),
        "UPLOAD_DIR": str(tmp / "uploads"),
        "WTF_CSRF_ENABLED": False,
        **overrides,
    }
    if config["MARKETPLACE_ENV"] == "production":
        # Production refuses to start without its own keys; tests of production behaviour
        # give them, as an operator must.
        config.setdefault("AUDIT_SIGNING_KEY", "test-audit-signing-key-0123456789-abcdefgh")
        config.setdefault("PARTY_HASH_KEY", "test-party-hash-key-0123456789-abcdefghijk")
    return config


@pytest.fixture
def make_app(
    database: TestDatabase, connection: Connection, tmp_path: Path
) -> Iterator[Callable[..., Flask]]:
    """Build an app bound to the test's transaction; keyword overrides go to create_app."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app(app_config(database.url, tmp_path, **overrides))
        app.extensions["db"].bind_to(connection)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        engine = app.extensions["db"].engine
        if engine is not None:
            engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def rows(session: Session, model: Any, *criteria: Any) -> list[Any]:
    """Rows of ``model`` matching ``criteria``, in insertion (primary-key) order."""
    primary_key = sa.inspect(model).primary_key
    return list(session.scalars(sa.select(model).where(*criteria).order_by(*primary_key)))


pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.payment_fixtures",
    "tests.support.voucher_fixtures",
    "tests.support.provider_fixtures",
    "tests.support.order_fixtures",
    "tests.support.settlement_fixtures",
]
