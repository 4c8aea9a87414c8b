"""``flask orders auto-confirm``: confirms what is due, skips what is not, safe to re-run."""

from datetime import timedelta

import sqlalchemy as sa

from marketplace.orders import disputes
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from vouchers.enums import HoldStatus
from vouchers.models import Hold
from vouchers.verify import verify_ledger


def _status(session, order):
    session.expire_all()
    return session.get(Order, order.id).status


def test_auto_confirm_is_idempotent(app, session, order_world, create_order):
    due = create_order(S.DELIVERED)
    disputed = create_order(S.DELIVERED)
    disputes.open_dispute(
        session,
        disputed.id,
        order_world.sme(disputed),
        reason="数据有误",
        now=disputed.delivered_at + timedelta(days=1),
    )
    day_after = (due.confirm_by + timedelta(days=1)).isoformat()
    runner = app.test_cli_runner()

    on_deadline = runner.invoke(
        args=["orders", "auto-confirm", "--today", due.confirm_by.isoformat()]
    )
    assert on_deadline.exit_code == 0, on_deadline.output
    assert "confirmed 0 order(s)" in on_deadline.output
    assert _status(session, due) is S.DELIVERED

    first = runner.invoke(args=["orders", "auto-confirm", "--today", day_after])
    assert first.exit_code == 0, first.output
    assert "confirmed 1 order(s), skipped 0" in first.output
    assert _status(session, due) is S.CONFIRMED
    assert _status(session, disputed) is S.DISPUTED
    order = session.get(Order, due.id)
    assert session.get(Hold, order.hold_id).status is HoldStatus.CAPTURED
    events = [e.action.value for e in order.events]
    assert events.count("auto_confirm") == 1

    again = runner.invoke(args=["orders", "auto-confirm", "--today", day_after])
    assert again.exit_code == 0 and "confirmed 0 order(s)" in again.output
    session.expire_all()
    assert [e.action.value for e in session.get(Order, due.id).events].count("auto_confirm") == 1
    assert verify_ledger(session).ok
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Order).where(Order.status == S.CONFIRMED)
        )
        == 1
    )
