"""The demo has an order waiting at each step, made through the real services, once."""

from datetime import date

import sqlalchemy as sa

from marketplace.demo import DEMO_ORDERS, seed
from marketplace.orders.models import Order
from vouchers.verify import verify_ledger


def test_demo_orders_at_each_step_and_idempotent(session, orders_ctx):
    first = seed(session, today=date(2026, 6, 15))
    assert first.created["orders"] == len(DEMO_ORDERS)
    statuses = sorted(o.status.value for o in session.scalars(sa.select(Order)))
    assert statuses == sorted(target for *_rest, target, _note in DEMO_ORDERS)
    again = seed(session, today=date(2026, 6, 15))
    assert "orders" not in again.created
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == len(DEMO_ORDERS)
    assert verify_ledger(session).ok
