"""Blacklisting freezes (issue 11, point 5): listing an enterprise freezes its vouchers and
the orders that still depend on them (no capture, no claim) until a reviewer decides each —
release to the budget, or unfreeze with a reason — and lifting the listing unfreezes what it
froze. Everything through the real services, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.clock import local_date
from marketplace.enums import Role
from marketplace.errors import ReasonRequired
from marketplace.orders import delivery
from marketplace.orders.enums import OrderStatus
from marketplace.settlement.ledger_checks import verify_books
from tests.support.settlement_fixtures import CLAIM_NOW
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import enterprises, freezes
from vouchers.enums import FreezeAction, FreezeStatus, HoldStatus, VoucherStatus
from vouchers.errors import HoldFrozen, InvalidTransition
from vouchers.models import Hold, HoldFreeze

TODAY = local_date(VOUCHER_NOW)


def _list(session, enterprise, actor):
    return enterprises.blacklist_enterprise(
        session,
        enterprise.id,
        reason="法院失信被执行人",
        source="信用中国",
        listed_on=TODAY,
        actor_id=actor.id,
        today=TODAY,
    )


def _freeze_of(session, order):
    return session.scalar(sa.select(HoldFreeze).where(HoldFreeze.hold_id == order.hold_id))


def _actions(session, subject_type):
    return set(
        session.scalars(sa.select(AuditEvent.action).where(AuditEvent.subject_type == subject_type))
    )


@pytest.fixture
def frozen_world(session, order_world, create_order, orders_ctx):
    """An enterprise with an agreed order (open hold), a confirmed order (captured, not
    claimed) and a voucher, then listed."""
    agreed = create_order(OrderStatus.AGREED)
    enterprise = agreed.enterprise
    confirmed = create_order(OrderStatus.CONFIRMED, enterprise=enterprise)
    reviewer = order_world.staff(Role.REVIEWER)
    _list(session, enterprise, reviewer)
    session.flush()
    return agreed, confirmed, reviewer


def test_listing_freezes_vouchers_and_open_orders(session, frozen_world):
    agreed, confirmed, _ = frozen_world
    assert agreed.voucher.status is VoucherStatus.FROZEN
    open_freeze, captured_freeze = _freeze_of(session, agreed), _freeze_of(session, confirmed)
    assert open_freeze.status is captured_freeze.status is FreezeStatus.FROZEN
    assert session.get(Hold, agreed.hold_id).status is HoldStatus.OPEN
    assert session.get(Hold, confirmed.hold_id).status is HoldStatus.CAPTURED
    assert {"voucher.frozen"} <= _actions(session, "voucher")
    assert {"hold_freeze.frozen"} <= _actions(session, "hold_freeze")


def test_a_frozen_order_is_neither_captured_nor_claimed(
    session, frozen_world, order_world, settlement_world
):
    agreed, confirmed, _ = frozen_world
    order_world.pay(agreed)
    order_world.deliver(agreed, now=VOUCHER_NOW + timedelta(days=1))
    with pytest.raises(HoldFrozen), session.begin_nested():
        delivery.confirm(
            session, agreed.id, order_world.sme(agreed), now=VOUCHER_NOW + timedelta(days=2)
        )
    with pytest.raises(HoldFrozen):
        settlement_world.claim(confirmed, now=CLAIM_NOW)


def test_unfreezing_lets_the_order_go_on(session, frozen_world, order_world, settlement_world):
    _agreed, confirmed, reviewer = frozen_world
    with pytest.raises(ReasonRequired):
        freezes.decide(
            session,
            _freeze_of(session, confirmed).id,
            FreezeAction.UNFREEZE,
            reason=" ",
            actor_id=reviewer.id,
        )
    freeze = freezes.decide(
        session,
        _freeze_of(session, confirmed).id,
        FreezeAction.UNFREEZE,
        reason="服务在列入名单前已完成，经核实真实",
        actor_id=reviewer.id,
    )
    assert freeze.status is FreezeStatus.UNFROZEN and freeze.decided_by == reviewer.id
    claim = settlement_world.claim(confirmed, now=CLAIM_NOW)
    assert [line.order_id for line in claim.lines] == [confirmed.id]
    with pytest.raises(InvalidTransition):
        freezes.decide(
            session, freeze.id, FreezeAction.RELEASE, reason="再次处理", actor_id=reviewer.id
        )


def test_releasing_returns_the_money_to_the_budget(session, frozen_world):
    agreed, confirmed, reviewer = frozen_world
    voucher = agreed.voucher
    balance_before, returned_before = voucher.balance_fen, voucher.returned_fen
    open_hold = session.get(Hold, agreed.hold_id)
    captured_hold = session.get(Hold, confirmed.hold_id)
    held, captured = open_hold.amount_fen, captured_hold.captured_fen
    for order in (agreed, confirmed):
        freezes.decide(
            session,
            _freeze_of(session, order).id,
            FreezeAction.RELEASE,
            reason="虚假交易，退回预算",
            actor_id=reviewer.id,
        )
    session.flush()
    session.refresh(voucher)
    assert open_hold.status is HoldStatus.RELEASED
    assert captured_hold.captured_fen == 0
    # Back to the programme budget, not to the blacklisted enterprise's voucher.
    assert voucher.balance_fen == balance_before
    assert voucher.returned_fen == returned_before + held + captured
    assert verify_books(session).ok
    assert {"hold_freeze.released"} <= _actions(session, "hold_freeze")


def test_lifting_the_listing_unfreezes_what_it_froze(session, frozen_world):
    agreed, confirmed, reviewer = frozen_world
    decided = freezes.decide(
        session,
        _freeze_of(session, confirmed).id,
        FreezeAction.RELEASE,
        reason="虚假交易",
        actor_id=reviewer.id,
    )
    enterprises.remove_from_blacklist(
        session, agreed.enterprise_id, reason="信用修复完成", actor_id=reviewer.id, today=TODAY
    )
    session.flush()
    assert agreed.voucher.status is VoucherStatus.ACTIVE
    lifted = _freeze_of(session, agreed)
    assert lifted.status is FreezeStatus.LIFTED and lifted.decision_reason == "信用修复完成"
    assert decided.status is FreezeStatus.RELEASED  # a reviewer's decision stands
    assert "voucher.unfrozen" in _actions(session, "voucher")
    assert verify_books(session).ok


def test_orders_already_claimed_are_not_frozen(session, order_world, settlement_world, orders_ctx):
    order = settlement_world.order()
    settlement_world.claim(order, now=CLAIM_NOW)
    session.refresh(order)
    assert order.status is OrderStatus.CLAIMED
    _list(session, order.enterprise, order_world.staff(Role.REVIEWER))
    session.flush()
    assert _freeze_of(session, order) is None
    assert order.voucher.status is VoucherStatus.FROZEN
