"""The reads an SME sends most — the wallet and the order list — in a fixed number of round
trips whatever the number of vouchers and orders (an N+1 query would show as a count that grows
with them), without a write once the token's last-used stamp is fresh; the cheapest endpoints
(the cached OpenAPI document, /healthz) without touching the database or its pool at all.

Counted on a separate database with real commits, as the accept's statement test does
(tests/support/statements.py). The bounds are the numbers reached (README, "Performance");
raise one only with a reason.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.auth.services import create_api_token
from marketplace.clock import local_date
from marketplace.db import create_engine, utcnow
from marketplace.orders.enums import OrderStatus as S
from tests.conftest import app_config
from tests.integration.orders.test_concurrency import _factories
from tests.support.fixtures import new_programme
from tests.support.order_fixtures import OrderWorld
from tests.support.statements import count_statements
from vouchers import programmes
from vouchers.enums import CapScope, ProgrammeKind
from vouchers.models import Programme

#: Round trips of one request: the token (with its user, one joined SELECT), then the wallet's
#: quotas and its vouchers (programme and enterprise joined), or the page of orders. SQLite adds
#: its BEGIN IMMEDIATE and COMMIT; PostgreSQL reads in autocommit and sends neither (a
#: transaction begins only at a write: marketplace.db.begin_transactions_lazily), where it sent
#: both before (5 and 4, the BEGIN uncounted then).
MAX_STATEMENTS = {
    ("sqlite", "/api/v1/wallet"): 5,
    ("postgresql", "/api/v1/wallet"): 3,
    ("sqlite", "/api/v1/orders"): 4,
    ("postgresql", "/api/v1/orders"): 2,
}
#: Answered without a statement or a pool checkout (nothing to read).
NO_DATABASE = ("/api/v1/openapi.json", "/healthz")
ORDERS = (S.REQUESTED, S.QUOTED, S.AGREED, S.PAID, S.QUOTED, S.DECLINED)


def _service_programme(session: Session, year: int) -> Programme:
    """A second programme the SME holds a voucher of, with its own annual cap (so the wallet
    lists two vouchers of two programmes and an own cap beside the shared one)."""
    programme = new_programme(
        session, kind=ProgrammeKind.SERVICE, year=year, cap_scope=CapScope.PROGRAMME
    )
    programmes.ensure_funded(session, programme)
    return programme


def test_wallet_order_list_and_cheapest_endpoints_in_bounded_round_trips(database, tmp_path: Path):
    url = database.fresh("read_statements")
    app = create_app(app_config(url, tmp_path))
    engine = create_engine(url)
    now = utcnow()
    year = local_date(now).year
    try:
        with app.app_context(), Session(engine) as session:
            world = OrderWorld(session, app, **_factories(session))
            enterprise = world.create_enterprise()
            for programme in (world.programme(year), _service_programme(session, year)):
                world.voucher_of(enterprise, programme, now=now)
            for status in ORDERS:
                world.create(status, enterprise=enterprise, now=now)
            _token, plain = create_api_token(session, world.sme(enterprise), name="reads")
            session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {plain}"}
        app_engine = app.extensions["db"].engine

        # The token's first use stamps it (one UPDATE); within the minute no request writes.
        with count_statements(app_engine) as first:
            assert client.get("/api/v1/wallet", headers=headers).status_code == 200
        assert len(first.matching("UPDATE api_tokens")) == 1, first.listing()
        if database.backend == "postgresql":  # the transaction begins at the stamp
            stamp = first.matching("UPDATE")[0]
            assert first.sql[1:3] == ["BEGIN", stamp] and first.sql[-1] == "COMMIT", first.listing()

        sizes = {"/api/v1/wallet": ("vouchers", 2), "/api/v1/orders": ("items", len(ORDERS))}
        for path, (key, expected) in sizes.items():
            client.get(path, headers=headers)  # compiled statements cached, as in a worker
            with count_statements(app_engine) as seen:
                response = client.get(path, headers=headers)
            assert response.status_code == 200, response.json
            assert len(response.json[key]) == expected
            print(f"\n{database.backend} {path}: {seen.count} statements\n{seen.listing()}")
            assert seen.count <= MAX_STATEMENTS[database.backend, path], seen.listing()
            assert not [s for s in seen.sql if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
            if database.backend == "postgresql":
                assert seen.sql == seen.matching("SELECT"), seen.listing()
        assert len(client.get("/api/v1/wallet", headers=headers).json["own_caps"]) == 1

        for path in NO_DATABASE:
            client.get(path)  # the OpenAPI document is built on the first request, then kept
            with count_statements(app_engine) as seen:
                response = client.get(path, headers=headers)
            assert response.status_code == 200
            assert (seen.count, seen.checkouts) == (0, 0), (path, seen.listing())
    finally:
        engine.dispose()
        app.extensions["db"].engine.dispose()
