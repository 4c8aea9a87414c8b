"""The demo has an order waiting at each step, made through the real services, once."""

from datetime import date

import sqlalchemy as sa

from marketplace.demo import DEMO_CO_FUNDED_ORDER, DEMO_ORDERS, seed
from marketplace.orders.models import Order
from marketplace.settlement.ledger_checks import verify_books
from marketplace.settlement.models import PayoutBatch
from vouchers.funder_models import HoldFunderPart


def test_demo_orders_at_each_step_and_idempotent(session, orders_ctx):
    first = seed(session, today=date(2026, 6, 15))
    assert first.created["orders"] == len(DEMO_ORDERS)
    # And the co-funded programme's order: its hold split province / Yuxi, 50 / 50, claimed,
    # approved and in one payout batch per paying treasury, each naming its account.
    assert first.created["co-funded orders"] == 1 and first.created["payout batches"] == 2
    statuses = sorted(o.status.value for o in session.scalars(sa.select(Order)))
    assert statuses == sorted(
        [*(target for *_rest, target, _note in DEMO_ORDERS), "claim_approved"]
    )
    co_funded = session.scalars(
        sa.select(Order).where(Order.request_note == DEMO_CO_FUNDED_ORDER[3])
    ).one()
    parts = session.scalars(
        sa.select(HoldFunderPart).where(HoldFunderPart.hold_id == co_funded.hold_id)
    ).all()
    assert sorted(p.funder.region_code for p in parts) == ["530000", "530400"]
    assert sum(p.held_fen for p in parts) == co_funded.voucher_part_fen
    batches = session.scalars(sa.select(PayoutBatch).order_by(PayoutBatch.id)).all()
    assert [(b.funder.region_code, b.status.value) for b in batches] == [
        ("530000", "draft"),
        ("530400", "draft"),
    ]
    by_code = sorted(parts, key=lambda p: p.funder.region_code)
    assert [b.total_fen for b in batches] == [p.captured_fen for p in by_code]
    assert all(b.payer_account_number == b.funder.bank_account_number for b in batches)
    again = seed(session, today=date(2026, 6, 15))
    assert "orders" not in again.created and "co-funded orders" not in again.created
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == len(DEMO_ORDERS) + 1
    assert verify_books(session).ok
