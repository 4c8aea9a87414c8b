"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers and Prometheus.

* ``/healthz`` — the process is up and answering; touches nothing else, so a database outage
  does not make the orchestrator kill healthy workers.
* ``/readyz`` — this worker can serve: the database answers, its schema is at the migrations'
  head (a worker of a newer release waits until ``db upgrade`` ran), and Redis answers when
  ``REDIS_URL`` is set. 503 with ``Retry-After`` otherwise, so the balancer stops sending
  traffic here until it recovers.
* ``/metrics`` — Prometheus text format: the process's request metrics
  (:mod:`marketplace.observability`, aggregated over gunicorn's workers when
  ``PROMETHEUS_MULTIPROC_DIR`` is set) and the business metrics (:mod:`marketplace.ops.metrics`).
  Only with ``Authorization: Bearer <METRICS_TOKEN>``; without a configured token it does not
  exist (404), so it can never be left open by accident.

None of them uses the request's unit of work: the probes open their own short connection and
never write.
"""

from __future__ import annotations

import hmac
import os
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from marketplace import migrate
from marketplace.config import Settings, current_settings
from marketplace.db import get_db
from marketplace.jobs import redis_client
from marketplace.observability import REGISTRY
from marketplace.ops.metrics import BusinessCollector

bp = Blueprint("ops", __name__)
RETRY_AFTER_SECONDS = "5"


@cache
def migration_heads() -> frozenset[str]:
    """The revisions a database at head carries (read once per process)."""
    # Alembic and the Redis client are imported by the probes that use them, not at start-up:
    # they are ≈ 15 MiB resident a worker (tests/architecture/test_lazy_imports.py).
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    return frozenset(script.get_heads())


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


def _check_database() -> tuple[bool, str]:
    from alembic.runtime.migration import MigrationContext

    try:
        with get_db().new_session() as session:
            conn = session.connection()
            conn.execute(sa.text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except sa.exc.SQLAlchemyError as exc:
        return False, f"unavailable ({type(exc).__name__})"
    if current != migration_heads():
        return False, f"schema at {sorted(current)}, code expects {sorted(migration_heads())}"
    return True, "ok"


def _check_redis(settings: Settings) -> tuple[bool, str]:
    from redis.exceptions import RedisError

    assert settings.redis_url is not None
    try:
        redis_client(settings.redis_url).ping()
    except RedisError as exc:
        return False, f"unavailable ({type(exc).__name__})"
    return True, "ok"


@bp.get("/readyz")
def readyz() -> Response:
    settings = current_settings()
    checks: dict[str, Any] = {}
    ok, checks["database"] = _check_database()
    if settings.redis_url:
        redis_ok, checks["redis"] = _check_redis(settings)
        ok = ok and redis_ok
    response = jsonify(status="ready" if ok else "unavailable", checks=checks)
    if not ok:
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    response.headers["Cache-Control"] = "no-store"
    return response


def _authorised(settings: Settings) -> bool:
    if not settings.metrics_token:
        abort(404)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.metrics_token.encode()
    )


@bp.get("/metrics")
def metrics() -> Response:
    settings = current_settings()
    if not _authorised(settings):
        response = Response("metrics need the scrape token\n", status=401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn: every worker writes its counters to files there; add them all up.
        process = CollectorRegistry()
        MultiProcessCollector(process)
    else:
        process = REGISTRY
    business = CollectorRegistry()
    session = get_db().new_session()
    try:
        business.register(BusinessCollector(session, settings))
        body = generate_latest(process) + generate_latest(business)
    finally:
        session.close()  # read only: closing discards the transaction
    response = Response(body, mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
