"""The demo has an order waiting at each step, made through the real services, once."""

from datetime import date

import sqlalchemy as sa

from marketplace.demo import DEMO_CO_FUNDED_ORDER, DEMO_ORDERS, seed
from marketplace.orders.models import Order
from vouchers.funder_models import HoldFunderPart
from vouchers.verify import verify_ledger


def test_demo_orders_at_each_step_and_idempotent(session, orders_ctx):
    first = seed(session, today=date(2026, 6, 15))
    assert first.created["orders"] == len(DEMO_ORDERS)
    # And the co-funded programme's order, agreed: its hold split province / Yuxi, 50 / 50.
    assert first.created["co-funded orders"] == 1
    statuses = sorted(o.status.value for o in session.scalars(sa.select(Order)))
    assert statuses == sorted([*(target for *_rest, target, _note in DEMO_ORDERS), "agreed"])
    co_funded = session.scalars(
        sa.select(Order).where(Order.request_note == DEMO_CO_FUNDED_ORDER[3])
    ).one()
    parts = session.scalars(
        sa.select(HoldFunderPart).where(HoldFunderPart.hold_id == co_funded.hold_id)
    ).all()
    assert sorted(p.funder.region_code for p in parts) == ["530000", "530400"]
    assert sum(p.held_fen for p in parts) == co_funded.voucher_part_fen
    again = seed(session, today=date(2026, 6, 15))
    assert "orders" not in again.created and "co-funded orders" not in again.created
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == len(DEMO_ORDERS) + 1
    assert verify_ledger(session).ok
