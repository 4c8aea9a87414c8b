"""Payouts on both databases: batches per provider, the bank files, exactly-once confirmation
imports, failed lines back to the queue, the ledger, settling."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.errors import DomainError
from marketplace.notifications.models import OutboundEmail
from marketplace.orders.enums import OrderAction, OrderStatus
from marketplace.orders.models import OrderEvent
from marketplace.settlement import payout_files, payouts
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    ClaimStatus,
    PayoutBatchStatus,
    PayoutLineStatus,
)
from marketplace.settlement.ledger_checks import verify_books
from marketplace.settlement.models import ClaimEvent, ClaimLine, PayoutItem
from tests.conftest import rows
from tests.support.settlement_fixtures import CLAIM_NOW, PAID_ON, set_bank_account
from vouchers import ledger
from vouchers.enums import AccountKind, TransactionKind
from vouchers.ledger_models import LedgerTransaction

# Services read the settings (notifications) from the test app's context.
pytestmark = pytest.mark.usefixtures("orders_ctx")


def _payout_transactions(session):
    return rows(session, LedgerTransaction, LedgerTransaction.kind == TransactionKind.PAYOUT)


def _balances(session, provider_id, programme_id):
    return tuple(
        ledger.balance_of(
            session,
            ledger.get_account(session, kind, programme_id=programme_id, provider_id=provider_id),
        )
        for kind in (AccountKind.PROVIDER_PAYABLE, AccountKind.PROVIDER_PAID)
    )


@pytest.fixture
def two_providers(settlement_world):
    """Three approved orders: two of one provider, one of another."""
    w = settlement_world
    a1 = w.order()
    a2 = w.order(provider=a1.provider, price_fen=300_000)
    b1 = w.order(price_fen=100_000)
    w.approved_claim(a1, a2)
    w.approved_claim(b1)
    return a1, a2, b1


def test_a_batch_has_one_payment_per_provider(settlement_world, session, two_providers):
    a1, a2, b1 = two_providers
    batch = settlement_world.batch()
    assert batch.status is PayoutBatchStatus.DRAFT and batch.line_count == 2
    by_provider = {line.provider_id: line for line in batch.lines}
    line_a, line_b = by_provider[a1.provider_id], by_provider[b1.provider_id]
    assert line_a.amount_fen == a1.voucher_part_fen + a2.voucher_part_fen == 250_000
    assert line_b.amount_fen == b1.voucher_part_fen == 50_000
    assert batch.total_fen == 300_000
    assert line_a.bank_account_number == a1.provider.bank_account_number
    assert sorted(i.order_id for i in line_a.items) == [a1.id, a2.id]
    for order in (a1, a2, b1):
        session.refresh(order)
        assert order.status is OrderStatus.CLAIM_APPROVED  # not paid until the bank says so
    lines = rows(session, ClaimLine)
    assert {ln.status for ln in lines} == {ClaimLineStatus.IN_PAYOUT}
    assert {ln.payout_line_id for ln in lines} == {line_a.id, line_b.id}
    assert len(rows(session, ClaimEvent, ClaimEvent.note == batch.reference)) == 3
    # Nothing is left to pay twice.
    with pytest.raises(DomainError) as caught:
        settlement_world.batch()
    assert caught.value.code == "nothing_to_pay"


def test_providers_without_a_bank_account_wait(settlement_world, session):
    w = settlement_world
    with_account, without = w.order(), w.order()
    w.approved_claim(with_account)
    claim = w.approved_claim(without, bank=False)
    result = payouts.create_batch(session, actor_id=w.finance.id, now=CLAIM_NOW)
    assert [line.provider_id for line in result.batch.lines] == [with_account.provider_id]
    assert result.skipped == [(without.provider_id, without.provider.name)]
    waiting = payouts.payout_queue(session)
    assert [ln.order_id for ln in waiting] == [without.id]
    with pytest.raises(DomainError) as caught:
        payouts.create_batch(
            session, actor_id=w.finance.id, claim_line_ids=[claim.lines[0].id], now=CLAIM_NOW
        )
    assert caught.value.code == "bank_account_missing"
    with pytest.raises(DomainError) as caught:
        payouts.create_batch(session, actor_id=w.finance.id, claim_line_ids=[10**12])
    assert caught.value.code == "not_found"


def test_explicit_lines_must_be_in_the_queue(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    with pytest.raises(DomainError) as caught:
        w.batch([claim.lines[0].id])
    assert caught.value.code == "claim_state_conflict"


def test_the_payment_file(settlement_world, session, two_providers):
    a1, _a2, _b1 = two_providers
    batch = settlement_world.batch()
    text = payout_files.payment_file(batch)
    table = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["line_id"] for row in table] == [str(line.id) for line in batch.lines]
    row = next(r for r in table if r["provider_name"] == a1.provider.name)
    assert row == {
        "line_id": row["line_id"],
        "provider_name": a1.provider.name,
        "bank_account_name": a1.provider.name,
        "bank_name": "中国银行昆明分行",
        "account_number": a1.provider.bank_account_number,
        "amount_yuan": "2500.00",
        "amount_fen": "250000",
        "reference": f"VMPAY{int(row['line_id']):08d}",
        # A programme naming no funder pays from its own budget: no treasury account to name.
        "payer_name": "",
        "payer_bank_name": "",
        "payer_account_number": "",
    }
    assert batch.funder_id is None
    assert payout_files.payment_filename(batch) == f"payout-{batch.reference}.csv"
    assert sum(int(r["amount_fen"]) for r in table) == batch.total_fen


def test_confirmation_needs_a_sent_batch_and_sending_is_idempotent(settlement_world, session):
    w = settlement_world
    w.approved_claim(w.order())
    batch = w.batch()
    with pytest.raises(DomainError) as caught:
        w.confirm(batch, w.confirmation_csv(batch))
    assert caught.value.code == "payout_state_conflict"
    sent = payouts.mark_sent(session, batch.id, actor_id=w.second_finance.id, now=CLAIM_NOW)
    sent_at, version = sent.sent_at, sent.version
    again = payouts.mark_sent(session, batch.id, actor_id=w.second_finance.id, expected_version=1)
    assert again.status is PayoutBatchStatus.SENT and again.sent_at == sent_at
    assert again.version == version


def test_paid_lines_move_money_once_even_when_imported_twice(
    settlement_world, session, two_providers
):
    a1, a2, b1 = two_providers
    w = settlement_world
    programme_id = a1.voucher.programme_id
    before_a = _balances(session, a1.provider_id, programme_id)
    batch = w.sent_batch()
    csv_text = w.confirmation_csv(batch)

    first = w.confirm(batch, csv_text)
    assert sorted(first.applied) == sorted(line.id for line in batch.lines) and not first.unchanged
    assert batch.status is PayoutBatchStatus.COMPLETED
    after_a = _balances(session, a1.provider_id, programme_id)
    assert after_a == (before_a[0] - 250_000, before_a[1] + 250_000)
    for order in (a1, a2, b1):
        session.refresh(order)
        assert order.status is OrderStatus.PAID_OUT
    events = len(rows(session, OrderEvent))
    transactions = len(_payout_transactions(session))
    assert transactions == 2

    second = w.confirm(batch, csv_text)
    assert second.applied == [] and sorted(second.unchanged) == sorted(first.applied)
    assert _balances(session, a1.provider_id, programme_id) == after_a
    assert len(rows(session, OrderEvent)) == events
    assert len(_payout_transactions(session)) == transactions
    assert all(line.status is PayoutLineStatus.PAID for line in batch.lines)
    claims_paid = session.scalars(sa.select(ClaimLine).where(ClaimLine.order_id == a1.id)).one()
    assert (
        claims_paid.status is ClaimLineStatus.PAID and claims_paid.claim.status is ClaimStatus.PAID
    )
    report = verify_books(session)
    assert report.ok, [c.breaches for c in report.checks if not c.ok]


def test_a_conflicting_reimport_is_refused_whole(settlement_world, session, two_providers):
    w = settlement_world
    batch = w.sent_batch()
    first_line, second_line = batch.lines
    w.confirm(batch, w.confirmation_csv(batch, {second_line.id: "failed"}))
    transactions = len(_payout_transactions(session))
    for changed in (
        w.confirmation_csv(batch, {first_line.id: "failed", second_line.id: "failed"}),
        w.confirmation_csv(batch, {second_line.id: "failed"}, transaction_prefix="X"),
        w.confirmation_csv(batch, {second_line.id: "failed"}, paid_on=date(2026, 7, 2)),
    ):
        with pytest.raises(DomainError) as caught:
            w.confirm(batch, changed)
        assert caught.value.code == "confirmation_conflict"
    session.refresh(first_line)
    session.refresh(second_line)
    assert (first_line.status, second_line.status) == (
        PayoutLineStatus.PAID,
        PayoutLineStatus.FAILED,
    )
    assert len(_payout_transactions(session)) == transactions


def test_a_failed_line_goes_back_to_the_queue_and_is_paid_later(
    settlement_world, session, two_providers
):
    a1, a2, b1 = two_providers
    w = settlement_world
    batch = w.sent_batch()
    failed = next(line for line in batch.lines if line.provider_id == a1.provider_id)
    result = w.confirm(batch, w.confirmation_csv(batch, {failed.id: "failed"}))
    assert sorted(result.applied) == sorted(line.id for line in batch.lines)
    assert failed.status is PayoutLineStatus.FAILED and failed.failure_reason == "账户已销户"
    for order in (a1, a2):
        session.refresh(order)
        assert order.status is OrderStatus.CLAIM_APPROVED
        event = rows(session, OrderEvent, OrderEvent.order_id == order.id)[-1]
        assert event.action is OrderAction.PAYOUT_FAILED
    session.refresh(b1)
    assert b1.status is OrderStatus.PAID_OUT
    queue = payouts.payout_queue(session)
    assert sorted(ln.order_id for ln in queue) == sorted([a1.id, a2.id])
    assert {ln.status for ln in queue} == {ClaimLineStatus.APPROVED}
    assert queue[0].claim.status is ClaimStatus.APPROVED
    assert len(_payout_transactions(session)) == 1  # only the paid line moved money

    set_bank_account(a1.provider, suffix="9")  # the provider corrected its account
    retry = w.sent_batch()
    assert [line.provider_id for line in retry.lines] == [a1.provider_id]
    assert retry.lines[0].bank_account_number.endswith("9")
    w.confirm(retry, w.confirmation_csv(retry, transaction_prefix="R"))
    for order in (a1, a2):
        session.refresh(order)
        assert order.status is OrderStatus.PAID_OUT
    claim = queue[0].claim
    session.refresh(claim)
    assert claim.status is ClaimStatus.PAID
    items = rows(session, PayoutItem, PayoutItem.order_id == a1.id)
    assert len(items) == 2  # one in the failed payment, one in the paid one
    line = next(ln for ln in claim.lines if ln.order_id == a1.id)
    steps = rows(session, ClaimEvent, ClaimEvent.line_id == line.id)
    assert [(e.action, e.from_status, e.to_status) for e in steps[-4:]] == [
        (ClaimAction.BATCH, ClaimLineStatus.APPROVED, ClaimLineStatus.IN_PAYOUT),
        (ClaimAction.PAYOUT_FAIL, ClaimLineStatus.IN_PAYOUT, ClaimLineStatus.APPROVED),
        (ClaimAction.BATCH, ClaimLineStatus.APPROVED, ClaimLineStatus.IN_PAYOUT),
        (ClaimAction.PAY, ClaimLineStatus.IN_PAYOUT, ClaimLineStatus.PAID),
    ]
    report = verify_books(session)
    assert report.ok, [c.breaches for c in report.checks if not c.ok]


def test_rows_must_match_the_batch(settlement_world, session, two_providers):
    w = settlement_world
    batch = w.sent_batch()
    line = batch.lines[0]
    bad = (
        "line_id,reference,status,bank_transaction_id,date\n"
        f"{line.id},VMPAY99999999,paid,T1,2026-07-01\n"
        "999999,,paid,T2,2026-07-01\n"
        f"{batch.lines[1].id},,paid,T1,2026-07-01\n"
    )
    with pytest.raises(DomainError) as caught:
        w.confirm(batch, bad)
    assert caught.value.code == "confirmation_mismatch" and caught.value.status == 409
    assert set(caught.value.extra["rows"]) == {"row 2", "row 3"}
    contradicting = (
        "line_id,status,bank_transaction_id,date\n"
        f"{line.id},paid,T1,2026-07-01\n"
        f"{line.id},failed,,2026-07-01\n"
    )
    with pytest.raises(DomainError) as caught:
        w.confirm(batch, contradicting)
    assert set(caught.value.extra["rows"]) == {"row 3"}
    shared = (
        "line_id,status,bank_transaction_id,date\n"
        f"{batch.lines[0].id},paid,T1,2026-07-01\n"
        f"{batch.lines[1].id},paid,T1,2026-07-01\n"
    )
    with pytest.raises(DomainError) as caught:
        w.confirm(batch, shared)
    assert caught.value.code == "confirmation_mismatch"
    assert all(ln.status is PayoutLineStatus.PENDING for ln in batch.lines)


def test_a_bank_transaction_belongs_to_one_payment(settlement_world, session):
    w = settlement_world
    w.approved_claim(w.order())
    first = w.sent_batch()
    w.confirm(first, w.confirmation_csv(first, transaction_prefix="DUP"))
    w.approved_claim(w.order())
    second = w.sent_batch()
    reused = (
        "line_id,status,bank_transaction_id,date\n"
        f"{second.lines[0].id},paid,{first.lines[0].bank_transaction_id},2026-07-01\n"
    )
    with pytest.raises(DomainError) as caught:
        w.confirm(second, reused)
    assert caught.value.code == "confirmation_conflict"
    assert second.lines[0].status is PayoutLineStatus.PENDING


def test_the_provider_hears_about_each_payment(settlement_world, session, two_providers):
    a1, _a2, b1 = two_providers
    w = settlement_world
    batch = w.sent_batch()
    failed = next(line for line in batch.lines if line.provider_id == b1.provider_id)
    w.confirm(batch, w.confirmation_csv(batch, {failed.id: "failed"}))
    paid_mail = rows(session, OutboundEmail, OutboundEmail.template == "settlement_payout_paid")
    failed_mail = rows(session, OutboundEmail, OutboundEmail.template == "settlement_payout_failed")
    assert [m.to_address for m in paid_mail] == [w.seller(a1).email]
    assert [m.to_address for m in failed_mail] == [w.seller(b1).email]
    assert "¥2,500.00" in paid_mail[0].subject and "2026-07-01" in paid_mail[0].body
    assert "账户已销户" in failed_mail[0].body


def test_settle_waits_for_the_value_date_and_is_idempotent(
    settlement_world, session, two_providers
):
    a1, a2, b1 = two_providers
    w = settlement_world
    batch = w.sent_batch()
    w.confirm(batch, w.confirmation_csv(batch))
    assert payouts.settle_due(session, today=PAID_ON - timedelta(days=1)) == 0
    assert sorted(payouts.orders_to_settle(session, PAID_ON)) == sorted([a1.id, a2.id, b1.id])
    assert payouts.settle_due(session, today=PAID_ON) == 3
    assert payouts.settle_due(session, today=PAID_ON) == 0
    for order in (a1, a2, b1):
        session.refresh(order)
        assert order.status is OrderStatus.SETTLED
        assert rows(session, OrderEvent, OrderEvent.order_id == order.id)[-1].action is (
            OrderAction.SETTLE
        )
    assert payouts.settle_order(session, a1.id, today=PAID_ON) is False
