"""``ledger verify`` on the provider side: payable = captured − reversals − paid out, and paid
out = the payment lines the bank confirmed. A clean world verifies; tampering is reported."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.enums import Role
from marketplace.orders import disputes
from marketplace.orders.enums import OrderStatus, Outcome
from marketplace.settlement import ledger_checks
from marketplace.settlement.enums import PayoutLineStatus
from marketplace.settlement.ledger_checks import verify_books
from marketplace.settlement.models import PayoutItem, PayoutLine
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import ledger
from vouchers.enums import AccountKind, TransactionKind
from vouchers.verify import verify_ledger

pytestmark = pytest.mark.usefixtures("orders_ctx")

PROVIDER_CHECKS = ("provider_payable", "provider_paid")


def _breaches(session) -> dict[str, list[str]]:
    report = verify_books(session)
    return {c.name: c.breaches for c in report.checks if c.breaches}


def _account(session, kind, order):
    return ledger.get_account(
        session, kind, programme_id=order.voucher.programme_id, provider_id=order.provider_id
    )


@pytest.fixture
def paid_world(settlement_world, session):
    """Provider A: two orders paid out, one more confirmed (still payable), one captured and
    then partly reversed by a dispute. Provider B: one order whose first payment failed and
    was paid in the next batch."""
    w = settlement_world
    a1 = w.order()
    a2 = w.order(provider=a1.provider, price_fen=300_000)
    a3 = w.order(provider=a1.provider)
    reduced = w.order(provider=a1.provider)
    disputes.open_dispute(
        session,
        reduced.id,
        w.orders.sme(reduced),
        reason="数据缺失",
        now=VOUCHER_NOW + timedelta(days=3),
    )
    disputes.decide(
        session,
        reduced.id,
        w.orders.staff(Role.REVIEWER),
        outcome=Outcome.UPHOLD_PARTIAL,
        note="部分支持",
        refund_fen=0,
        voucher_restore_fen=30_000,
        now=VOUCHER_NOW + timedelta(days=4),
    )
    b1 = w.order(price_fen=100_000)
    w.approved_claim(a1, a2)
    w.approved_claim(b1)
    first = w.sent_batch()
    line_b = next(line for line in first.lines if line.provider_id == b1.provider_id)
    w.confirm(first, w.confirmation_csv(first, {line_b.id: "failed"}))
    second = w.sent_batch()
    w.confirm(second, w.confirmation_csv(second, transaction_prefix="C"))
    session.flush()
    return {"a1": a1, "a2": a2, "a3": a3, "reduced": reduced, "b1": b1}


def test_the_books_add_the_payout_check_to_the_ledger_s_own(session):
    voucher_side = [c.name for c in verify_ledger(session).checks]
    books = [c.name for c in verify_books(session).checks]
    assert ledger_checks.NAME not in voucher_side
    assert books == [
        *voucher_side,
        ledger_checks.NAME,
        ledger_checks.FUNDER_PAID,
        ledger_checks.PARTS,
    ]


def test_a_clean_world_verifies(session, paid_world):
    report = verify_books(session)
    assert report.ok, _breaches(session)
    checks = {c.name: c for c in report.checks}
    for name in PROVIDER_CHECKS:
        assert checks[name].checked >= 2, name
    a1, b1, reduced = paid_world["a1"], paid_world["b1"], paid_world["reduced"]
    # A: 100,000 + 150,000 paid; 100,000 (a3) + 70,000 (reduced, after the reversal) payable.
    assert ledger.balance_of(session, _account(session, AccountKind.PROVIDER_PAID, a1)) == 250_000
    assert (
        ledger.balance_of(session, _account(session, AccountKind.PROVIDER_PAYABLE, a1)) == 170_000
    )
    assert ledger.balance_of(session, _account(session, AccountKind.PROVIDER_PAID, b1)) == 50_000
    assert reduced.hold.captured_fen == 70_000
    session.refresh(b1)
    assert b1.status is OrderStatus.PAID_OUT


def test_the_cli_runs_the_provider_checks(app, session, paid_world):
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    for name in PROVIDER_CHECKS:
        assert f"[OK  ] {name}:" in result.output


def test_a_tampered_payment_line_amount_is_a_breach(app, session, paid_world):
    line = session.scalars(
        sa.select(PayoutLine).where(PayoutLine.provider_id == paid_world["a1"].provider_id)
    ).one()
    session.execute(
        sa.update(PayoutLine).where(PayoutLine.id == line.id).values(amount_fen=line.amount_fen + 1)
    )
    breaches = _breaches(session)
    assert list(breaches) == ["provider_paid"]
    assert breaches["provider_paid"] == [
        f"payment line {line.id} (paid): amount 250001 ≠ its items 250000"
    ]
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 1 and "[FAIL] provider_paid" in result.output


def test_a_tampered_payout_item_is_a_breach(session, paid_world):
    b1 = paid_world["b1"]
    item = session.scalars(
        sa.select(PayoutItem)
        .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
        .where(PayoutItem.order_id == b1.id, PayoutLine.status == PayoutLineStatus.PAID)
    ).one()
    session.execute(sa.update(PayoutItem).where(PayoutItem.id == item.id).values(amount_fen=49_000))
    breaches = _breaches(session)["provider_paid"]
    programme = b1.voucher.programme_id
    assert (
        f"programme {programme}, provider {b1.provider_id}: paid out 50000 in the ledger, 49000 in "
        "payment lines the bank confirmed"
    ) in breaches
    assert any(b.startswith(f"payment line {item.payout_line_id} ") for b in breaches)


def test_a_line_marked_paid_without_a_posting_is_a_breach(session, settlement_world):
    """Someone sets a pending payment line to paid in the database: no money moved."""
    w = settlement_world
    order = w.order()
    w.approved_claim(order)
    batch = w.sent_batch()
    session.execute(
        sa.update(PayoutLine)
        .where(PayoutLine.batch_id == batch.id)
        .values(
            status=PayoutLineStatus.PAID,
            bank_transaction_id="FAKE1",
            value_date=VOUCHER_NOW.date(),
            confirmed_at=VOUCHER_NOW,
        )
    )
    breaches = _breaches(session)
    assert list(breaches) == ["provider_paid"]
    assert "paid out 0 in the ledger, 100000" in breaches["provider_paid"][0]


def test_a_balanced_payout_posting_without_a_payment_is_a_breach(session, paid_world):
    """payable → paid with no bank confirmation: the ledger balances, the programme's legs
    agree, payable + paid still equals what was captured; only the payout check sees it."""
    a3 = paid_world["a3"]
    ledger.post(
        session,
        "tamper:payout",
        TransactionKind.PAYOUT,
        ledger.transfer(
            _account(session, AccountKind.PROVIDER_PAYABLE, a3),
            _account(session, AccountKind.PROVIDER_PAID, a3),
            1_000,
        ),
        programme_id=a3.voucher.programme_id,
        now=VOUCHER_NOW,
    )
    breaches = _breaches(session)
    assert list(breaches) == ["provider_paid"]
    assert "paid out 251000 in the ledger, 250000" in breaches["provider_paid"][0]


def test_payable_moved_to_another_provider_is_a_breach(session, paid_world, create_provider):
    """A balanced posting that moves one provider's payable to another's."""
    a3 = paid_world["a3"]
    stranger = create_provider()
    programme = a3.voucher.programme_id
    ledger.post(
        session,
        "tamper:move",
        TransactionKind.ADJUSTMENT,
        ledger.transfer(
            _account(session, AccountKind.PROVIDER_PAYABLE, a3),
            ledger.get_account(
                session,
                AccountKind.PROVIDER_PAYABLE,
                programme_id=programme,
                provider_id=stranger.id,
            ),
            5_000,
        ),
        programme_id=programme,
        now=VOUCHER_NOW,
    )
    breaches = _breaches(session)
    assert list(breaches) == ["provider_payable"]
    assert breaches["provider_payable"] == [
        f"programme {programme}, provider {a3.provider_id}: payable 165000 ≠ captured 420000 "
        "(net of reversals) − paid out 250000",
        f"programme {programme}, provider {stranger.id}: payable 5000 ≠ captured 0 (net of "
        "reversals) − paid out 0",
    ]
