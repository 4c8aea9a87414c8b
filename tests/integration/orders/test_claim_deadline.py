"""Orders confirmed after the voucher's claim deadline: the order is confirmed, the voucher part
lapses to the programme budget (recorded, shown, told), the co-payment stays, no claim."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace.enums import Role
from marketplace.notifications.models import OutboundEmail
from marketplace.orders import delivery, disputes
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.enums import Outcome
from marketplace.orders.models import Order, OrderEvent
from marketplace.settlement import claims
from marketplace.settlement.errors import NotClaimable
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers import ledger
from vouchers.enums import AccountKind, HoldStatus, TransactionKind
from vouchers.expiry import expire_voucher, release_stale_hold, revoke_voucher
from vouchers.ledger_models import LedgerTransaction
from vouchers.models import Hold, Quota
from vouchers.verify import verify_ledger

#: The programme's claim deadline is 31 March of the next year; this is noon, 2 April (China).
LATE = datetime(VOUCHER_YEAR + 1, 4, 2, 4, tzinfo=UTC)
ON_DEADLINE = datetime(VOUCHER_YEAR + 1, 3, 31, 4, tzinfo=UTC)


def _ledger_ok(session):
    report = verify_ledger(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]


def _available(session, order) -> int:
    account = ledger.programme_accounts(session, order.voucher.programme_id).available
    return ledger.balance_of(session, account)


def _payable(session, order) -> int:
    account = ledger.get_account(
        session,
        AccountKind.PROVIDER_PAYABLE,
        programme_id=order.voucher.programme_id,
        provider_id=order.provider_id,
    )
    return ledger.balance_of(session, account)


def _last_event(session, order) -> OrderEvent:
    return session.scalars(
        sa.select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc())
    ).first()


def _mails(session, user) -> list[OutboundEmail]:
    return list(
        session.scalars(
            sa.select(OutboundEmail)
            .where(OutboundEmail.user_id == user.id, OutboundEmail.template == "order_update")
            .order_by(OutboundEmail.id)
        )
    )


def _assert_lapsed(session, order, amount, reason="claim_deadline_passed"):
    """Confirmed, the hold released (not captured), the lapse in the history; books balanced."""
    session.refresh(order)
    hold = session.get(Hold, order.hold_id)
    assert order.status is S.CONFIRMED and order.confirmed_at is not None
    assert (hold.status, hold.captured_fen, hold.release_reason) == (
        HoldStatus.RELEASED,
        0,
        reason,
    )
    event = _last_event(session, order)
    assert event.detail["voucher_lapsed_fen"] == amount
    assert event.detail["voucher_lapse_reason"] == reason
    session.expire(order, ["events"])
    assert order.voucher_lapsed_fen == amount
    assert _payable(session, order) == 0
    quota = session.get(Quota, hold.quota_id)
    assert (quota.used_fen, quota.held_fen) == (0, 0)
    _ledger_ok(session)


def test_confirming_after_the_claim_deadline_lapses_the_voucher_part(
    session, order_world, create_order
):
    order = create_order(S.DELIVERED, price_fen=200_000)
    price, part, copay = order.price_fen, order.voucher_part_fen, order.co_payment_fen
    assert (part, copay) == (100_000, 100_000)
    available = _available(session, order)
    provider_user, sme = order_world.provider_user(order), order_world.sme(order)
    other_sme = order_world.create_user(Role.ENTERPRISE, enterprise=order.enterprise)

    delivery.confirm(session, order.id, sme, now=LATE)

    _assert_lapsed(session, order, 100_000)
    # The voucher is past its use-by date (not yet marked expired): straight to the budget.
    assert _available(session, order) == available + 100_000
    assert order.voucher.returned_fen == 100_000
    # What the parties agreed stays: the SME never pays more for a late delivery.
    assert (order.price_fen, order.voucher_part_fen, order.co_payment_fen) == (price, part, copay)
    release = session.scalars(
        sa.select(LedgerTransaction).where(LedgerTransaction.hold_id == order.hold_id)
    ).all()
    assert [t.kind for t in release] == [TransactionKind.HOLD, TransactionKind.RELEASE]
    assert release[-1].idempotency_key == f"hold.release:order:{order.id}:lapse"
    # Both parties are told, the confirming SME too; nobody is told the part is payable.
    for user in (provider_user, sme, other_sme):
        mail = _mails(session, user)[-1]
        assert "券抵扣部分已失效" in mail.subject and "¥1,000.00" in mail.body
        assert "claim deadline has passed" in mail.body
    assert not [m for m in _mails(session, provider_user) if "企业已确认验收" in m.subject]


def test_the_claim_deadline_day_itself_still_captures(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    delivery.confirm(session, order.id, order_world.sme(order), now=ON_DEADLINE)
    assert session.get(Hold, order.hold_id).status is HoldStatus.CAPTURED
    assert "voucher_lapsed_fen" not in _last_event(session, order).detail
    assert order.voucher_lapsed_fen == 0
    assert _payable(session, order) == 100_000


def test_a_lapsed_order_cannot_be_claimed(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    delivery.confirm(session, order.id, order_world.sme(order), now=LATE)
    for today in (LATE, VOUCHER_NOW + timedelta(days=30)):
        with pytest.raises(NotClaimable) as info:
            claims.create_claim(
                session,
                order.provider_id,
                [order.id],
                actor_id=order_world.provider_user(order).id,
                now=today,
            )
        assert "no invoice or voucher part to claim" in info.value.message
    assert (
        claims.claimable_orders(session, order.provider_id, today=LATE.date(), cooling_off_days=0)
        == []
    )
    assert session.get(Order, order.id).status is S.CONFIRMED


def test_auto_confirm_confirms_late_orders_instead_of_reporting_them_forever(
    app, session, create_order
):
    order = create_order(S.DELIVERED)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["orders", "auto-confirm", "--today", "2027-04-02"])
    assert first.exit_code == 0, first.output
    assert "confirmed 1 order(s), skipped 0" in first.output
    assert "1 of them after the claim deadline" in first.output and "¥1,000.00" in first.output
    session.expire_all()
    order = session.get(Order, order.id)
    _assert_lapsed(session, order, 100_000)
    again = runner.invoke(args=["orders", "auto-confirm", "--today", "2027-04-03"])
    assert again.exit_code == 0 and "confirmed 0 order(s), skipped 0" in again.output
    assert [e.action.value for e in order.events].count("auto_confirm") == 1


def test_a_hold_already_released_by_expiry_lapses_too(session, order_world, create_order):
    """`vouchers expire` ran first: the confirmation records the lapse, moves no money twice."""
    order = create_order(S.DELIVERED)
    expire_voucher(session, order.voucher_id, today=date(VOUCHER_YEAR + 1, 4, 1), now=LATE)
    released = release_stale_hold(session, order.hold_id, today=date(VOUCHER_YEAR + 1, 4, 1))
    assert released == 100_000
    postings = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    delivery.confirm(session, order.id, order_world.sme(order), now=LATE)
    _assert_lapsed(session, order, 100_000, reason="claim_deadline")
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == postings


def test_a_dismissed_dispute_after_the_claim_deadline_lapses(session, order_world, create_order):
    order = create_order(S.DISPUTED)
    disputes.decide(
        session,
        order.id,
        order_world.staff(Role.REVIEWER),
        outcome=Outcome.DISMISS,
        note="交付符合约定。",
        now=LATE,
    )
    _assert_lapsed(session, order, 100_000)
    assert _last_event(session, order).action.value == "dismiss_dispute"
    subjects = [m.subject for m in _mails(session, order_world.provider_user(order))]
    assert any("争议已有调解结果" in s for s in subjects)
    assert any("券抵扣部分已失效" in s for s in subjects)


def test_a_partly_upheld_dispute_after_the_claim_deadline_lapses_the_reduced_part(
    session, order_world, create_order
):
    order = create_order(S.DISPUTED, price_fen=200_000)
    dispute = disputes.decide(
        session,
        order.id,
        order_world.staff(Role.REVIEWER),
        outcome=Outcome.UPHOLD_PARTIAL,
        note="部分数据缺失。",
        refund_fen=20_000,
        voucher_restore_fen=20_000,
        now=LATE,
    )
    _assert_lapsed(session, order, 80_000)
    assert (order.price_fen, order.voucher_part_fen, order.co_payment_fen) == (
        160_000,
        80_000,
        80_000,
    )
    assert (dispute.refund_fen, order.refund_due_fen) == (20_000, 20_000)


def test_a_hold_released_by_revocation_is_recorded_as_lapsed_too(
    session, order_world, create_order
):
    """Not the claim deadline but the same situation: nothing can be captured any more, so the
    confirmation says so instead of confirming a voucher part nobody will pay."""
    order = create_order(S.DELIVERED)
    revoke_voucher(
        session,
        order.voucher_id,
        reason="虚报材料",
        actor_id=order_world.staff(Role.REVIEWER).id,
        idempotency_key="revoke-1",
        now=VOUCHER_NOW + timedelta(days=2),
    )
    sme = order_world.sme(order)
    delivery.confirm(session, order.id, sme, now=VOUCHER_NOW + timedelta(days=3))
    _assert_lapsed(session, order, 100_000, reason="revoked")
    mail = _mails(session, order_world.provider_user(order))[-1]
    assert "the voucher was revoked" in mail.body and "电子券已被撤销" in mail.body
