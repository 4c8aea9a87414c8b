"""Issue 17: health and readiness probes, /metrics behind its token, request ids, JSON logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
import sqlalchemy as sa

from marketplace import create_app, observability
from marketplace.db import commit, create_engine
from marketplace.enums import Role
from marketplace.notifications import notify
from marketplace.observability import JsonFormatter, configure_logging, request_id_bound
from marketplace.orders.enums import OrderStatus as S
from tests.conftest import app_config
from tests.support.fixtures import AuthActions
from tests.support.payment_fixtures import free_port
from vouchers import tokens

TOKEN = "scrape-token-0123456789abcdef"


def test_healthz_answers_without_the_database(make_app):
    # A database URL nobody listens on: the process is still up, so /healthz says so.
    app = make_app()
    app.extensions["db"].engine.dispose()
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_schema_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_refuses_a_schema_behind_the_code(database, tmp_path):
    url = database.fresh("behind")
    engine = create_engine(url)
    with engine.begin() as conn:  # as if the deploy's `db upgrade` had not run yet
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    app = create_app(app_config(url, tmp_path))
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["db"].engine.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("schema at")


def test_readyz_refuses_when_redis_is_configured_but_down(make_app):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "redis": "unavailable (ConnectionError)",
    }


def test_readyz_refuses_when_the_database_is_unreachable(tmp_path):
    app = create_app(app_config(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable (OperationalError)"


def test_metrics_do_not_exist_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", TOKEN]
)
def test_metrics_need_the_scrape_token(make_app, authorization):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"marketplace_" not in response.data


def test_metrics_scrape(make_app, create_programme):
    programme = create_programme(total_budget_fen=2_000_000)
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    client.get("/healthz")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'marketplace_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in (
        text
    )
    assert 'marketplace_http_request_duration_seconds_bucket{endpoint="ops.healthz"' in text
    for name in (
        "marketplace_holds_placed_total",
        "marketplace_hold_captures_total",
        "marketplace_payouts_total",
        "marketplace_payouts_fen_total",
        "marketplace_outbox_backlog",
        "marketplace_outbox_oldest_age_seconds",
    ):
        assert f"\n{name} " in text, name
    # No Redis configured: no queue series pretending to be zero.
    assert "marketplace_job_queue_depth" not in text
    # A programme not yet funded in the ledger has no headroom; the series exists per programme.
    assert f'marketplace_budget_available_fen{{kind="innovation",programme_id="{programme.id}"' in (
        text
    )


def test_metrics_report_redis_down(make_app):
    client = make_app(
        METRICS_TOKEN=TOKEN, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    ).test_client()
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(
        as_text=True
    )
    assert "\nmarketplace_redis_up 0.0" in text
    assert "marketplace_job_queue_depth" not in text


def test_request_id_header_and_problem_body(client):
    response = client.get("/api/v1/orders/1")  # no token: 401 problem
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32
    assert response.get_json()["request_id"] == request_id
    # A proxy's plausible id is kept, so one id follows the request through every tier.
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a9c21.0001"})
    assert kept.headers["X-Request-Id"] == "lb-7f3a9c21.0001"
    # Anything else (log-forging characters, absurd lengths) is replaced.
    for bad in ('x" "status":200', "short", "a" * 200):
        replaced = client.get("/healthz", headers={"X-Request-Id": bad})
        assert replaced.headers["X-Request-Id"] != bad
        assert len(replaced.headers["X-Request-Id"]) == 32


def test_one_json_line_per_request(app, client, create_user, api_token, caplog):
    user = create_user()
    headers = {**api_token(user), "X-Request-Id": "req-0000000001"}
    with caplog.at_level(logging.INFO, logger="marketplace.request"):
        response = client.get("/api/v1/me?secret=hunter2", headers=headers)
    assert response.status_code == 422  # the API refuses unknown query fields
    [record] = [r for r in caplog.records if r.name == "marketplace.request"]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-0000000001"
    assert entry["event"] == "request"
    assert (entry["method"], entry["route"], entry["status"]) == ("GET", "/api/v1/me", 422)
    assert (entry["user_id"], entry["role"]) == (user.id, "enterprise")
    assert isinstance(entry["duration_ms"], float)
    assert "hunter2" not in json.dumps(entry)  # never the query string


def test_json_formatter_keeps_the_traceback_and_the_bound_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.json_formatter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with request_id_bound("job-request-0001"):
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                logger.exception("job failed")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == "job-request-0001"
    assert entry["level"] == "error" and entry["error"] == "RuntimeError"
    assert "raise RuntimeError" in entry["traceback"]


def test_configure_logging_installs_one_handler(capsys):
    root = logging.getLogger()
    level = root.level
    # An app built outside the testing environment earlier in this process installed it.
    earlier = [h for h in root.handlers if isinstance(h, observability._Handler)]
    for handler in earlier:
        root.removeHandler(handler)
    added = configure_logging("json", "INFO")
    try:
        assert added is not None and isinstance(added.formatter, JsonFormatter)
        assert configure_logging("text", "DEBUG") is None  # once per process
        logging.getLogger("tests.configure").info("to stderr")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(line)["message"] == "to stderr"
    finally:
        root.removeHandler(added)
        root.setLevel(level)
        for handler in earlier:
            root.addHandler(handler)


OLD_KEY = "old-secret-key-0123456789abcdefghijklmnop"
NEW_KEY = "new-secret-key-0123456789abcdefghijklmnop"


def test_secret_key_rotation_keeps_sessions_and_voucher_tokens(
    make_app, order_world, create_user, api_token
):
    """SECRET_KEY rotation (README, "Runbook"): the old key moves to SECRET_KEY_FALLBACKS,
    so signed-in people and printed voucher tokens keep working; once it is dropped, they
    do not."""
    order = order_world.create(S.QUOTED)
    sme = order_world.sme(order)
    voucher = order_world.voucher_of(order.enterprise, order_world.programme())
    token = tokens.verification_token(OLD_KEY, voucher)
    checker = api_token(create_user(Role.PROVIDER))

    before = make_app(SECRET_KEY=OLD_KEY).test_client()
    assert AuthActions(before).login(sme).status_code in (302, 303)
    cookie = before.get_cookie("session")
    assert cookie is not None

    def attempt(app) -> tuple[int, int]:
        client = app.test_client()
        client.set_cookie("session", cookie.value)
        page = client.get("/enterprise/").status_code
        verified = client.post("/api/v1/vouchers/verify", json={"token": token}, headers=checker)
        return page, verified.status_code

    assert attempt(make_app(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=OLD_KEY)) == (200, 200)
    page, verified = attempt(make_app(SECRET_KEY=NEW_KEY))
    assert page in (302, 303) and verified == 404  # signed out; token no longer genuine


def test_metrics_show_the_job_queue(
    make_app, session, redis_url, job_queue_name, create_user, smtp_server
):
    app = make_app(
        METRICS_TOKEN=TOKEN, REDIS_URL=redis_url, JOB_QUEUE=job_queue_name, **smtp_server.config
    )
    user = create_user()
    with app.app_context():
        notify(
            session,
            user,
            "payment_received",
            name="x",
            amount_fen=1,
            description="d",
            payment_id=1,
        )
        commit(session)  # queued on Redis; no worker runs it
    text = (
        app.test_client()
        .get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        .get_data(as_text=True)
    )
    assert "\nmarketplace_redis_up 1.0" in text
    assert "\nmarketplace_job_queue_depth 1.0" in text
    assert "\nmarketplace_jobs_failed 0.0" in text
    [age] = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("marketplace_job_queue_oldest_age_seconds ")
    ]
    assert 0 <= age < 60
    [backlog] = [
        line for line in text.splitlines() if line.startswith("marketplace_outbox_backlog ")
    ]
    assert float(backlog.split()[-1]) >= 1


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/api/v1/disclosure/funders?year=2026", "application/problem+json"), ("/", "text/html")],
)
def test_a_commit_that_meets_a_dead_connection_is_answered_503(client, monkeypatch, path, mimetype):
    # The database went away between the view and its commit (a restart, a failover): the
    # request is answered "try again" by the app itself, in tests as in production, with the
    # security headers, and no side effect queued for after the response runs.
    def connection_gone(session):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("terminating connection"))

    monkeypatch.setattr("marketplace.db.commit", connection_gone)
    response = client.get(path)
    assert response.status_code == 503
    assert response.mimetype == mimetype
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers
