"""Issue 17: the ordinary faults of production, with real services on loopback.

* PostgreSQL stopped and started again while SMEs accept orders (each acceptance places a
  voucher hold): every request completes or fails cleanly (503 problem+json, Retry-After,
  nothing written), the app reconnects by itself, a retry with the same Idempotency-Key has its
  effect exactly once, and the books verify.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import create_app, migrate
from marketplace.auth.services import create_api_token
from marketplace.db import create_engine, utcnow
from marketplace.orders.core import payment_reference
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from tests.conftest import IN_CI, app_config
from tests.integration.orders.test_concurrency import _factories
from tests.support import postgres
from tests.support.order_fixtures import OrderWorld
from vouchers.models import Hold

THREADS = 3
ORDERS_PER_THREAD = 8


@pytest.fixture
def pg_server() -> Iterator[postgres.ThrowawayServer]:
    """A PostgreSQL server of this test's own, so it can be stopped under the app."""
    bindir = postgres.find_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        message = "PostgreSQL binaries (initdb, pg_ctl) are needed to restart a server"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = postgres.ThrowawayServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _migrated_database(server: postgres.ThrowawayServer, name: str) -> str:
    admin = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
    url = postgres.create_database(admin, name)
    migrate.upgrade(url)
    return url


def _quoted_orders(app: Any, url: str, count: int) -> list[dict[str, Any]]:
    """``count`` quoted orders, each of its own SME with a voucher and an API token."""
    engine = create_engine(url)
    try:
        with app.app_context(), Session(engine) as session:
            world = OrderWorld(session, app, **_factories(session))
            now = utcnow()
            plan = []
            for _ in range(count):
                order = world.create(S.QUOTED, now=now)
                enterprise = order.enterprise
                voucher = world.voucher_of(enterprise, world.programme(now.year), now=now)
                _token, plain = create_api_token(session, world.sme(order), name="faults")
                plan.append(
                    {
                        "id": order.id,
                        "voucher_id": voucher.id,
                        "version": order.version,
                        "token": plain,
                    }
                )
            session.commit()
            return plan
    finally:
        engine.dispose()


def _accept(client: Any, item: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/orders/{item['id']}/accept",
        json={"voucher_id": item["voucher_id"], "agree": True, "version": item["version"]},
        headers={
            "Authorization": f"Bearer {item['token']}",
            "Idempotency-Key": f"accept-{item['id']}",
        },
    )


def _clean_failure(response: Any) -> bool:
    body = response.get_json(silent=True) or {}
    return (
        response.status_code == 503
        and response.mimetype == "application/problem+json"
        and response.headers.get("Retry-After") == "5"
        and body.get("code") == "service_unavailable"
        and body.get("request_id") == response.headers.get("X-Request-Id")
    )


@pytest.mark.parametrize("backend_id", ["postgresql"])
def test_postgres_restart_while_holds_are_placed(
    pg_server: postgres.ThrowawayServer, tmp_path: Path, backend_id: str
) -> None:
    url = _migrated_database(pg_server, "faults_restart")
    app = create_app(app_config(url, tmp_path))
    plan = _quoted_orders(app, url, THREADS * ORDERS_PER_THREAD)
    outcomes: list[tuple[int, bool, Any]] = []  # (order id, ok, response)
    lock = threading.Condition()
    first_successes, halted, back_up = threading.Event(), threading.Event(), threading.Event()

    def worker(items: list[dict[str, Any]]) -> None:
        # Orders 0-1 before the fault, 2 while the server shuts down, 3-4 while it is down,
        # 5-7 after it came back (the pool must reconnect by itself).
        client = app.test_client()
        for index, item in enumerate(items):
            if index == 2:
                first_successes.wait(timeout=60)
            if index == 3:
                halted.wait(timeout=60)
            if index == 5:
                back_up.wait(timeout=60)
            response = _accept(client, item)
            ok = response.status_code == 200
            with lock:
                outcomes.append((item["id"], ok, response))
                if ok and sum(1 for _, good, _ in outcomes if good) >= THREADS:
                    first_successes.set()
                lock.notify_all()

    chunks = [plan[i::THREADS] for i in range(THREADS)]
    try:
        with ThreadPoolExecutor(max_workers=THREADS + 1) as pool:
            futures = [pool.submit(worker, chunk) for chunk in chunks]
            assert first_successes.wait(timeout=120), "no request succeeded before the fault"
            pg_server.halt("fast")  # in-flight transactions are cut off, new ones refused
            halted.set()
            with lock:  # until every thread has met the stopped server twice
                assert lock.wait_for(
                    lambda: sum(1 for _, ok, _ in outcomes if not ok) >= 2 * THREADS, timeout=120
                ), "requests did not meet the stopped server"
            pg_server.resume()
            back_up.set()
            for future in futures:
                future.result(timeout=300)

        statuses = sorted({r.status_code for _, _, r in outcomes})
        assert set(statuses) <= {200, 503}, statuses
        failed = [(order_id, r) for order_id, ok, r in outcomes if not ok]
        assert failed and all(_clean_failure(r) for _, r in failed), [
            (r.status_code, r.get_json(silent=True)) for _, r in failed
        ]
        # The app reconnected by itself: requests after the restart went through unaided.
        last_per_thread = [
            next(ok for oid, ok, _ in reversed(outcomes) if oid in {i["id"] for i in chunk})
            for chunk in chunks
        ]
        assert all(last_per_thread), last_per_thread

        # The client's retry, with the same key: exactly one effect per order.
        client = app.test_client()
        by_id = {item["id"]: item for item in plan}
        for order_id, _ in failed:
            retried = _accept(client, by_id[order_id])
            assert retried.status_code == 200, retried.get_json()
            assert retried.get_json()["status"] == "agreed"
    finally:
        app.extensions["db"].engine.dispose()

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            orders = list(session.scalars(sa.select(Order).where(Order.id.in_(list(by_id)))))
            assert {o.status for o in orders} == {S.AGREED}
            # One hold per order, none left over from a cut-off attempt.
            holds = list(session.scalars(sa.select(Hold)))
            assert sorted(h.order_ref for h in holds) == sorted(
                payment_reference(o.id) for o in orders
            )
            assert {o.hold_id for o in orders} == {h.id for h in holds}
    finally:
        engine.dispose()
    verify = (
        create_app(app_config(url, tmp_path)).test_cli_runner().invoke(args=["ledger", "verify"])
    )
    assert verify.exit_code == 0, verify.output
