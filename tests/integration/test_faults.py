"""Issue 17: the ordinary faults of production, with real services on loopback.

* PostgreSQL stopped and started again while SMEs accept orders (each acceptance places a
  voucher hold): every request completes or fails cleanly (503 problem+json, Retry-After,
  nothing written), the app reconnects by itself, a retry with the same Idempotency-Key has its
  effect exactly once, and the books verify.
* Redis stopped: requests still succeed, their e-mails wait in the outbox and go out once when
  it is back (the sweeper), rate limits go on in memory, /readyz reports it.
* SMTP server down: e-mails stay in the outbox, retried with back-off, sent once when it is back.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from rq import SimpleWorker
from sqlalchemy.orm import Session

from marketplace import create_app, jobs, migrate
from marketplace.auth.services import create_api_token
from marketplace.clock import local_date
from marketplace.db import commit, create_engine, utcnow
from marketplace.notifications import notify
from marketplace.notifications.models import EmailStatus, OutboundEmail
from marketplace.notifications.services import requeue_pending
from marketplace.observability import JsonFormatter
from marketplace.orders.core import payment_reference
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Invoice, Order
from providers import documents
from tests.conftest import IN_CI, app_config, rows
from tests.integration.orders.test_concurrency import _factories
from tests.support import postgres
from tests.support.order_fixtures import OrderWorld, invoice_number
from tests.support.payment_fixtures import Mailbox, _CollectingHandler, free_port
from tests.support.provider_fixtures import PDF
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
    checker = create_app(app_config(url, tmp_path))
    try:
        verify = checker.test_cli_runner().invoke(args=["ledger", "verify"])
    finally:
        checker.extensions["db"].engine.dispose()
    assert verify.exit_code == 0, verify.output


# --------------------------------------------------------------------------- Redis


class RedisProcess:
    """A redis-server of this test's own (memory only, loopback), to stop and start again."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        log = []
        for line in self.process.stdout:  # its log says when it listens: no polling
            log.append(line)
            if "Ready to accept connections" in line:
                return
        raise AssertionError("redis-server did not start: " + "".join(log))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is needed to stop Redis under the app", pytrace=False)
        pytest.skip("!!! redis-server is not installed: the Redis fault test cannot run")
    server = RedisProcess(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _work(app: Any) -> None:
    queue = jobs.queue(app.config["SETTINGS"])
    worker = SimpleWorker([queue], connection=queue.connection, name=f"{queue.name}-worker")
    with app.app_context():
        worker.work(burst=True, logging_level="WARNING")


def test_redis_stopped_loses_no_mail_and_limits_hold(
    session, make_app, own_redis, smtp_server, mailbox, order_world, api_token, caplog
):
    app = make_app(
        REDIS_URL=own_redis.url,
        JOB_QUEUE=f"faults-{uuid.uuid4().hex[:8]}",
        RATELIMIT_ENABLED=True,
        **smtp_server.config,
    )
    client = app.test_client()

    def accept(order: Order, request_id: str) -> Any:
        sme = order_world.sme(order)
        voucher = order_world.voucher_of(order.enterprise, order_world.programme(utcnow().year))
        return client.post(
            f"/api/v1/orders/{order.id}/accept",
            json={"voucher_id": voucher.id, "agree": True, "version": order.version},
            headers={
                **api_token(sme),
                "Idempotency-Key": f"accept-{order.id}",
                "X-Request-Id": request_id,
            },
        )

    def outbox_after(baseline: int) -> list[OutboundEmail]:
        session.expire_all()
        return rows(session, OutboundEmail, OutboundEmail.id > baseline)

    def mails_of(message: OutboundEmail) -> list[Any]:
        prefix = f"<outbox-{message.id}-"
        return [m for m in mailbox.messages if m["Message-ID"].startswith(prefix)]

    # Redis up: the provider's e-mail goes through RQ, and the job logs the request's id.
    first = order_world.create(S.QUOTED, app=app, now=utcnow())
    baseline = max(m.id for m in outbox_after(0))
    assert accept(first, "trace-redis-up-01").status_code == 200
    sent_while_up = outbox_after(baseline)
    assert sent_while_up
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    jobs_log = logging.getLogger("marketplace.jobs")
    level = jobs_log.level
    jobs_log.addHandler(handler)
    jobs_log.setLevel(logging.INFO)
    try:
        _work(app)
    finally:
        jobs_log.removeHandler(handler)
        jobs_log.setLevel(level)
    job_lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert job_lines and {e["request_id"] for e in job_lines} == {"trace-redis-up-01"}
    assert all(len(mails_of(m)) == 1 for m in sent_while_up)

    # Redis stopped: the request still succeeds; its e-mail waits in the outbox.
    own_redis.stop()
    second = order_world.create(S.QUOTED, app=app, now=utcnow())
    baseline = max(m.id for m in outbox_after(0))
    with caplog.at_level(logging.ERROR, logger="marketplace.jobs"):
        response = accept(second, "trace-redis-down-1")
    assert response.status_code == 200, response.get_json()
    assert any("could not queue job" in r.getMessage() for r in caplog.records)
    waiting = outbox_after(baseline)
    assert waiting and all(m.status is EmailStatus.QUEUED for m in waiting)
    assert all(mails_of(m) == [] for m in waiting)

    # Rate limits keep working, per process in memory (README, "Faults").
    statuses = [
        client.post(
            "/api/v1/auth/tokens",
            # One address, eleven accounts: the per-address limit, not the per-account one.
            json={"email": f"nobody{n}@test.example.cn", "password": "wrong-pw", "name": "x"},
        ).status_code
        for n in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429, statuses
    # The metrics say Redis is down instead of failing the scrape.
    assert client.get("/readyz").status_code == 503

    # Redis back: the sweeper queues the waiting e-mail, the worker sends it, exactly once.
    own_redis.start()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notifications", "send-pending", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    _work(app)
    session.expire_all()
    assert rows(session, OutboundEmail, OutboundEmail.status == EmailStatus.QUEUED) == []
    assert all(len(mails_of(m)) == 1 for m in waiting)
    again = runner.invoke(args=["notifications", "send-pending", "--older-than", "0"])
    assert "0 message(s) queued" in again.output
    _work(app)
    assert all(len(mails_of(m)) == 1 for m in [*sent_while_up, *waiting])


# --------------------------------------------------------------------------- SMTP


def test_smtp_down_keeps_mail_in_the_outbox_with_back_off(session, make_app, create_user):
    port = free_port()
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))
    user = create_user()
    with app.app_context():
        message = notify(
            session,
            user,
            "payment_received",
            name="x",
            amount_fen=100,
            description="d",
            payment_id=1,
        )
        commit(session)  # the inline delivery fails: the server is down
        session.refresh(message)
        assert (message.status, message.attempts) == (EmailStatus.QUEUED, 1)
        first_due = message.next_attempt_at
        assert requeue_pending(session, now=first_due - timedelta(seconds=1)) == 0
        assert requeue_pending(session, now=first_due) == 1
        second_try = utcnow()
        commit(session)  # still down: the second attempt fails, the wait doubles
        session.refresh(message)
        assert message.attempts == 2
        wait = message.next_attempt_at - second_try
        assert timedelta(minutes=2) <= wait < timedelta(minutes=2, seconds=10)

        mailbox = Mailbox()
        server = Controller(_CollectingHandler(mailbox), hostname="127.0.0.1", port=port)
        server.start()  # the mail server comes back, on the same address
        try:
            assert requeue_pending(session, now=message.next_attempt_at) == 1
            commit(session)
            session.refresh(message)
            assert message.status is EmailStatus.SENT
            assert requeue_pending(session, now=utcnow() + timedelta(days=1)) == 0
            commit(session)
        finally:
            server.stop()
    [mail] = mailbox.to(user.email)
    assert mail["Message-ID"].startswith(f"<outbox-{message.id}-")


# --------------------------------------------------------------------------- disk full


def test_disk_full_on_upload_records_nothing(
    session, app, order_world, api_token, tmp_path, monkeypatch
):
    """The kernel's own "No space left on device": the upload's temporary file is opened on
    /dev/full, where every write fails with ENOSPC."""
    if not Path("/dev/full").exists():
        if IN_CI:
            pytest.fail("/dev/full is needed to make the kernel report a full disk", pytrace=False)
        pytest.skip("!!! /dev/full is needed to make the kernel report a full disk")
    order = order_world.create(S.PAID, now=utcnow())
    seller = order_world.provider_user(order)
    client = app.test_client()
    body = {
        "invoice": {
            "code": "053002300111",
            "number": invoice_number(),
            "issued_on": local_date(utcnow()).isoformat(),
            "amount_fen": order.price_fen,
            "buyer_taxpayer_id": order.enterprise.credit_code,
            "seller_taxpayer_id": order.provider.credit_code,
        },
        "report": {"filename": "检测报告.pdf", "content_base64": base64.b64encode(PDF).decode()},
        "note": "报告见附件",
        "version": order.version,
    }
    real_mkstemp = tempfile.mkstemp

    def full_disk(*, dir: str, prefix: str) -> tuple[int, str]:
        return os.open("/dev/full", os.O_WRONLY), str(Path(dir) / f"{prefix}full")

    monkeypatch.setattr(documents.tempfile, "mkstemp", full_disk)
    response = client.post(
        f"/api/v1/orders/{order.id}/deliver", json=body, headers=api_token(seller)
    )
    assert response.status_code == 507, response.get_json()
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["code"] == "storage_full" and "file" in problem["errors"]
    session.expire_all()
    assert order.status is S.PAID and order.report_path is None
    assert rows(session, Invoice, Invoice.order_id == order.id) == []
    uploads = Path(app.config["SETTINGS"].upload_dir)
    assert [p for p in uploads.rglob("*") if p.is_file()] == []

    monkeypatch.setattr(documents.tempfile, "mkstemp", real_mkstemp)  # space freed
    retried = client.post(
        f"/api/v1/orders/{order.id}/deliver", json=body, headers=api_token(seller)
    )
    assert retried.status_code == 200, retried.get_json()
    session.expire_all()
    assert order.status is S.DELIVERED
    [stored] = [p for p in uploads.rglob("*") if p.is_file()]
    assert stored.read_bytes() == PDF
