"""60 concurrent POSTs with one Idempotency-Key: one effect, 59 identical replays.

Runs against a separate database with real commits and real concurrent connections (no
savepoint sharing), on SQLite and on PostgreSQL.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from marketplace import create_app
from marketplace.db import create_engine
from tests.conftest import app_config
from tests.support.fixtures import unique_credit_code, unique_email

REQUESTS = 60


def test_concurrent_requests_with_one_key_have_one_effect(database, tmp_path):
    url = database.fresh("idempotency")
    app = create_app(app_config(url, tmp_path))
    body = {
        "name": "昆明并发测试有限公司",
        "credit_code": unique_credit_code(),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": unique_email("race"),
        "password": "a-strong-password",
        "size_class": "small",
    }
    barrier = threading.Barrier(REQUESTS)

    def post(_n: int):
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/registrations/enterprise", json=body, headers={"Idempotency-Key": "same-key"}
        )
        return (
            response.status_code,
            response.headers.get("Idempotent-Replayed"),
            response.get_json(),
        )

    try:
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            results = list(pool.map(post, range(REQUESTS)))
    finally:
        app.extensions["db"].engine.dispose()

    assert [status for status, _, _ in results] == [202] * REQUESTS
    originals = [r for r in results if r[1] is None]
    replays = [r for r in results if r[1] == "true"]
    assert len(originals) == 1 and len(replays) == REQUESTS - 1
    assert all(body == originals[0][2] for _, _, body in replays)

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.execute(
                sa.text("SELECT count(*) FROM enterprises WHERE credit_code = :c"),
                {"c": body["credit_code"]},
            ).scalar()
            records = conn.execute(sa.text("SELECT count(*) FROM idempotency_records")).scalar()
    finally:
        engine.dispose()
    assert count == 1 and records == 1
