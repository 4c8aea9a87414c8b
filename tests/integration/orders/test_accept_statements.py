"""The lean hold path: one accept through the API (token, Idempotency-Key, every policy check,
hold, ledger, audit, order event, co-payment, e-mail queued) in a bounded number of round trips.

Counted on a separate database with real commits, so every BEGIN, SAVEPOINT and COMMIT the
request really sends is in the count. The bound is the number reached by the lean path (see
README, "Performance"); raise it only with a reason.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.audit import services as audit_services
from marketplace.auth.services import create_api_token
from marketplace.clock import local_date
from marketplace.db import create_engine, utcnow
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from marketplace.payments.models import Payment
from tests.conftest import app_config
from tests.integration.orders.test_concurrency import _factories
from tests.support.order_fixtures import OrderWorld
from tests.support.statements import count_statements
from vouchers.enums import HoldStatus
from vouchers.models import Hold
from vouchers.verify import verify_ledger

#: Round trips of one accept's transaction, its COMMIT included, per backend (SQLite adds its
#: BEGIN IMMEDIATE). Before the lean path: 44 on PostgreSQL (plus a pre-ping), 46 on SQLite;
#: the lean path reached 25 / 26, and the related-party match on shared attributes (issue 11)
#: added its one indexed SELECT; the order gate's three lookups (declaration, shared strong
#: attributes, programme admission) then became one SELECT of three EXISTS: 24 / 25. The
#: count now includes the BEGIN psycopg sends by itself, which it did not see before (the round
#: trips are the same): 25 on both. On PostgreSQL the token is read before that BEGIN, outside
#: the transaction, which begins at the first write (marketplace.db.begin_transactions_lazily).
MAX_REQUEST_STATEMENTS = {"sqlite": 25, "postgresql": 25}
#: The e-mail job run inline after the response when REDIS_URL is unset (with Redis it is an
#: RQ enqueue, no database round trip): begin, read (lock) the outbox row, mark it sent, commit.
MAX_JOB_STATEMENTS = {"sqlite": 4, "postgresql": 4}


def test_one_accept_in_a_bounded_number_of_round_trips(database, tmp_path: Path, monkeypatch):
    url = database.fresh("accept_statements")
    # Jobs after the response, as the servers run them (tests default to before).
    app = create_app(app_config(url, tmp_path, JOBS_AFTER_RESPONSE="true"))
    engine = create_engine(url)
    now = utcnow()
    try:
        with app.app_context(), Session(engine) as session:
            world = OrderWorld(session, app, **_factories(session))
            programme = world.programme(local_date(now).year)
            enterprise = world.create_enterprise()
            voucher = world.voucher_of(enterprise, programme, now=now)
            warm, measured = (world.create(S.QUOTED, enterprise=enterprise, now=now) for _ in "ab")
            _token, plain = create_api_token(session, world.sme(enterprise), name="bench")
            session.commit()
            ids = (warm.id, measured.id, voucher.id)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {plain}"}

        def accept(order_id: int):
            return client.post(
                f"/api/v1/orders/{order_id}/accept",
                json={"voucher_id": ids[2], "agree": True},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )

        # The first request warms the process (connections, compiled statements, caches).
        assert accept(ids[0]).status_code == 200
        app_engine = app.extensions["db"].engine
        # The audit chain's sealing job is queued at most once a second per process, by
        # whichever commit comes then (so, on a slow machine, sometimes by the measured one):
        # not part of an accept's cost, and kept out of the count so the test is deterministic.
        monkeypatch.setattr(audit_services, "_next_seal", math.inf)
        with count_statements(app_engine) as seen:
            response = accept(ids[1])
            # The response is complete before the e-mail job ran: the request's transaction
            # is all that was sent so far; the job runs when the server closes the response.
            assert seen.sql[-1] == "COMMIT" and seen.sql.count("COMMIT") == 1
            response.close()
        assert response.status_code == 200, response.json
        body = response.get_json()
        assert body["status"] == "agreed" and body["voucher_part_fen"] > 0

        print(f"\n{database.backend}: {seen.count} statements\n{seen.listing()}")
        request_part = seen.sql.index("COMMIT") + 1
        assert request_part <= MAX_REQUEST_STATEMENTS[database.backend], seen.listing()
        assert seen.count - request_part <= MAX_JOB_STATEMENTS[database.backend], seen.listing()
        # One transaction, no savepoint, no pool ping (every checkout is a statement-free one).
        assert not seen.matching("SAVEPOINT") and not seen.matching("ROLLBACK")
        assert seen.count - request_part > 0  # the e-mail really went out after the commit

        # The effect is all there, committed: hold, ledger, payment started, books verify.
        with Session(engine) as session:
            order = session.get(Order, ids[1])
            assert order is not None and order.status is S.AGREED
            hold = session.get(Hold, order.hold_id)
            assert hold is not None and hold.status is HoldStatus.OPEN
            payments = session.scalars(
                sa.select(Payment).where(Payment.reference == f"order:{ids[1]}")
            ).all()
            assert [p.amount_fen for p in payments] == [order.co_payment_fen]
            report = verify_ledger(session)
            assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]
    finally:
        engine.dispose()
        app.extensions["db"].engine.dispose()
