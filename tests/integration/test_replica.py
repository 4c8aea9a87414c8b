"""Scale-out: read-only traffic on a real streaming replica (``DATABASE_REPLICA_URL``).

A throwaway primary with replication enabled, a standby made from it by ``pg_basebackup -R``
and started on loopback; the primary commits with ``synchronous_commit = remote_apply`` to
that standby, so what the primary committed is already visible on the standby when the
commit returns (no waiting, no polling). Shown against the real servers:

* a search through the API is read on the standby, and the primary sees no statement;
* writes there are refused (a hot standby, and a READ ONLY transaction besides);
* a write endpoint still goes to the primary;
* with the standby stopped, the search is answered from the primary, still READ ONLY.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g

from marketplace import create_app, migrate
from marketplace.db import db_session, unit_of_work
from marketplace.demo import DEMO_PASSWORD, seed
from tests.conftest import IN_CI, app_config
from tests.support import postgres
from tests.support.statements import count_statements

pytestmark = pytest.mark.slow


@dataclass
class Replicated:
    primary: postgres.ThrowawayServer
    standby: postgres.ThrowawayServer
    primary_url: str
    standby_url: str


def _url(server: postgres.ThrowawayServer, database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{database}"


@pytest.fixture
def replicated() -> Iterator[Replicated]:
    bindir = postgres.find_bindir()
    if bindir is None or not (bindir / "pg_basebackup").exists():
        message = "PostgreSQL server programs (initdb, pg_basebackup) are needed for a replica"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip("!!! " + message)
    primary = postgres.ThrowawayServer(
        bindir,
        {
            "wal_level": "replica",
            "max_wal_senders": "4",
            "synchronous_standby_names": "replica1",
            "synchronous_commit": "remote_apply",
        },
    )
    standby = postgres.ThrowawayServer(bindir, {"hot_standby": "on"})
    try:
        primary.start()
        standby.prepare()
        standby._run(
            str(bindir / "pg_basebackup"),
            "--pgdata",
            str(standby.data),
            "--host",
            "127.0.0.1",
            "--port",
            str(primary.port),
            "--username",
            "postgres",
            "--wal-method=stream",
            "--write-recovery-conf",
            "--no-sync",
        )
        # The name the primary waits for (synchronous_standby_names); later lines win.
        with (standby.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres "
                "application_name=replica1'\n"
            )
        standby.resume()
        admin = _url(primary, "postgres")
        url = postgres.create_database(admin, "marketplace")
        migrate.upgrade(url)
        yield Replicated(primary, standby, url, _url(standby, "marketplace"))
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"{exc.cmd[0]} failed: {exc.stderr!r}")
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # the test may halt it
            standby.stop()
        primary.stop()


SEARCH = "/api/v1/catalogue/services?q=%E6%A3%80%E6%B5%8B"  # 检测


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_reads_on_the_replica_writes_refused_there_and_the_primary_when_it_is_down(
    backend, replicated: Replicated, tmp_path: Path
) -> None:
    app = create_app(
        app_config(replicated.primary_url, tmp_path, DATABASE_REPLICA_URL=replicated.standby_url)
    )
    db = app.extensions["db"]
    primary, replica = db.engine, db.replica_engine
    assert primary is not None and replica is not None
    # Our own connection to the standby, to look at it from outside the app.
    standby = sa.create_engine(replicated.standby_url)
    try:
        with app.app_context(), unit_of_work() as session:
            seed(session)  # committed on the primary, applied on the standby (remote_apply)
        client = app.test_client()

        # The search is read on the standby; the primary is not asked anything.
        with count_statements(primary) as on_primary, count_statements(replica) as on_replica:
            response = client.get(SEARCH)
        assert response.status_code == 200, response.get_data(as_text=True)
        titles = [item["title"] for item in response.get_json()["items"]]
        assert titles  # the demo's services, replicated
        assert on_replica.matching("SELECT"), on_replica.listing()
        assert on_primary.count == 0, on_primary.listing()

        # What the view's session is: the standby, in recovery, and read-only; writes fail.
        with app.test_request_context("/"):
            g._db_reads_replica = True
            reader = db_session()
            assert reader.scalar(sa.text("SELECT pg_is_in_recovery()")) is True
            assert reader.scalar(sa.text("SHOW transaction_read_only")) == "on"
            with pytest.raises(sa.exc.DBAPIError) as refused:
                reader.execute(sa.text("UPDATE services SET title = title"))
            assert refused.value.orig.sqlstate == "25006"  # read_only_sql_transaction
        # Even outside a read-only transaction the standby refuses writes (hot standby).
        with standby.connect() as conn, pytest.raises(sa.exc.DBAPIError) as hot:
            conn.execute(sa.text("UPDATE services SET title = title"))
        # 25006 read_only_sql_transaction or 0A000 "cannot … during recovery"
        assert hot.value.orig.sqlstate in ("25006", "0A000"), hot.value.orig
        assert "recovery" in str(hot.value.orig) or "read-only" in str(hot.value.orig)

        # A write endpoint goes to the primary, and the standby has it when the commit returns.
        before = _count(standby, "SELECT count(*) FROM api_tokens")
        with count_statements(primary) as on_primary, count_statements(replica) as on_replica:
            made = client.post(
                "/api/v1/auth/tokens",
                json={"email": "sme@demo.example.cn", "password": DEMO_PASSWORD, "name": "r"},
            )
        assert made.status_code == 201, made.get_data(as_text=True)
        assert on_primary.matching("INSERT"), on_primary.listing()
        assert on_replica.count == 0, on_replica.listing()
        assert _count(standby, "SELECT count(*) FROM api_tokens") == before + 1

        # The standby stops: reads come from the primary, still READ ONLY (a write begins a
        # READ ONLY transaction there and is refused).
        replicated.standby.halt("immediate")
        with count_statements(primary) as on_primary:
            response = client.get(SEARCH)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert [i["title"] for i in response.get_json()["items"]] == titles
        assert on_primary.matching("SELECT"), on_primary.listing()
        with app.test_request_context("/"):
            g._db_reads_replica = True
            reader = db_session()
            assert reader.scalar(sa.text("SELECT pg_is_in_recovery()")) is False
            assert reader.scalar(sa.text("SHOW transaction_read_only")) == "on"
            with pytest.raises(sa.exc.DBAPIError) as refused:
                reader.execute(sa.text("UPDATE services SET title = title"))
            assert refused.value.orig.sqlstate == "25006"  # read_only_sql_transaction
    finally:
        standby.dispose()
        primary.dispose()
        replica.dispose()


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())
