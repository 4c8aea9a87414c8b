"""The ledger itself: balanced postings only, exactly-once keys, no overdraft, append-only rows
guarded by the database, cached balances recomputable, and verify catching every breach."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from marketplace.settlement.ledger_checks import verify_books
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import holds, ledger
from vouchers.enums import AccountKind, Side, TransactionKind
from vouchers.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LedgerConflict,
    UnbalancedPosting,
)
from vouchers.ledger import Entry
from vouchers.ledger_models import LedgerAccount, LedgerEntry, LedgerTransaction
from vouchers.verify import verify_ledger


@pytest.fixture
def accounts(session, funded_programme):
    return ledger.programme_accounts(session, funded_programme(total_budget_fen=1_000_000).id)


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_postings_must_balance(session, accounts):
    before = _count(session, LedgerTransaction)
    with pytest.raises(UnbalancedPosting):
        ledger.post(
            session,
            "unbalanced",
            TransactionKind.ADJUSTMENT,
            [
                Entry(accounts.available, Side.DEBIT, 100),
                Entry(accounts.committed, Side.CREDIT, 99),
            ],
            programme_id=accounts.available.programme_id,
        )
    for bad in (0, -1, 1.5):
        with pytest.raises(UnbalancedPosting):
            ledger.post(
                session,
                "bad-amount",
                TransactionKind.ADJUSTMENT,
                ledger.transfer(accounts.available, accounts.committed, bad),
                programme_id=accounts.available.programme_id,
            )
    with pytest.raises(UnbalancedPosting):
        ledger.post(
            session,
            "one-entry",
            TransactionKind.ADJUSTMENT,
            [Entry(accounts.available, Side.DEBIT, 1)],
            programme_id=accounts.available.programme_id,
        )
    assert _count(session, LedgerTransaction) == before


def test_the_same_key_posts_once(session, accounts):
    entries = ledger.transfer(accounts.available, accounts.committed, 250)
    first = ledger.post(
        session,
        "move-1",
        TransactionKind.ADJUSTMENT,
        entries,
        programme_id=accounts.available.programme_id,
    )
    second = ledger.post(
        session,
        "move-1",
        TransactionKind.ADJUSTMENT,
        entries,
        programme_id=accounts.available.programme_id,
    )
    assert first.created and not second.created
    assert first.transaction.id == second.transaction.id
    assert ledger.balance_of(session, accounts.committed) == 250
    with pytest.raises(IdempotencyConflict):
        ledger.post(
            session,
            "move-1",
            TransactionKind.ADJUSTMENT,
            ledger.transfer(accounts.available, accounts.committed, 251),
            programme_id=accounts.available.programme_id,
        )


def test_an_overdraft_changes_nothing(session, accounts):
    before = (_count(session, LedgerTransaction), _count(session, LedgerEntry))
    with pytest.raises(InsufficientFunds) as info:
        ledger.post(
            session,
            "too-much",
            TransactionKind.ADJUSTMENT,
            ledger.transfer(accounts.spent, accounts.available, 1)
            + ledger.transfer(accounts.available, accounts.committed, 1),
            programme_id=accounts.available.programme_id,
        )
    assert info.value.extra["account_kind"] == AccountKind.BUDGET_SPENT.value
    assert (_count(session, LedgerTransaction), _count(session, LedgerEntry)) == before
    assert ledger.balance_of(session, accounts.available) == 1_000_000


def test_payouts_through_the_posting_api(session, issue_voucher, place_hold, create_provider):
    """What the settlement work does: payable → paid out, through ``post``."""
    provider = create_provider()
    voucher = issue_voucher()
    hold = place_hold(voucher, requested_fen=100_000, price_fen=300_000)
    holds.capture_hold(session, hold, "cap", VOUCHER_NOW, provider_id=provider.id)
    payable = ledger.get_account(
        session,
        AccountKind.PROVIDER_PAYABLE,
        programme_id=voucher.programme_id,
        provider_id=provider.id,
    )
    paid = ledger.get_account(
        session,
        AccountKind.PROVIDER_PAID,
        programme_id=voucher.programme_id,
        provider_id=provider.id,
    )
    ledger.post(
        session,
        "payout:claim-1",
        TransactionKind.PAYOUT,
        ledger.transfer(payable, paid, 100_000),
        programme_id=voucher.programme_id,
    )
    with pytest.raises(InsufficientFunds):
        ledger.post(
            session,
            "payout:claim-2",
            TransactionKind.PAYOUT,
            ledger.transfer(payable, paid, 1),
            programme_id=voucher.programme_id,
        )
    assert (ledger.balance_of(session, payable), ledger.balance_of(session, paid)) == (0, 100_000)
    # The voucher books close; only the payout side (marketplace.settlement.ledger_checks) sees
    # that no payment line confirmed by the bank stands behind this posting.
    assert verify_ledger(session).ok
    report = verify_books(session)
    assert [c.name for c in report.checks if not c.ok] == ["provider_paid"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount_fen = amount_fen + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET memo = 'edited'",
        "DELETE FROM ledger_transactions",
    ],
)
def test_posted_rows_are_append_only_in_the_database(session, accounts, statement):
    assert _count(session, LedgerEntry) > 0
    with pytest.raises(DBAPIError) as info, session.begin_nested():
        session.execute(sa.text(statement))
    assert "append-only" in str(info.value)


def test_cached_balances_cannot_go_negative(session, accounts):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            sa.update(LedgerAccount)
            .where(LedgerAccount.id == accounts.available.id)
            .values(balance_fen=-1)
        )


def test_a_hold_cannot_be_resolved_twice_even_by_a_buggy_caller(session, issue_voucher, place_hold):
    voucher = issue_voucher()
    hold = place_hold(voucher)
    holds.release_hold(session, hold, "rel", VOUCHER_NOW)
    accounts = ledger.voucher_accounts(session, voucher.programme_id, voucher.id)
    with pytest.raises(LedgerConflict):
        ledger.post(
            session,
            "second-resolution",
            TransactionKind.RELEASE,
            ledger.transfer(accounts.balance, accounts.held, 1),
            programme_id=voucher.programme_id,
            hold_id=hold.id,
            resolves_hold_id=hold.id,
        )


def test_recomputed_balances_equal_the_cache(session, issue_voucher, place_hold):
    voucher = issue_voucher()
    place_hold(voucher)
    recomputed = ledger.recomputed_balances(session)
    cached = dict(session.execute(sa.select(LedgerAccount.id, LedgerAccount.balance_fen)).all())
    assert recomputed == cached


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        (
            "UPDATE ledger_accounts SET balance_fen = balance_fen + 5 WHERE kind = 'budget_available'",
            "cached_balances",
        ),
        (
            "UPDATE vouchers SET balance_fen = balance_fen - 5, returned_fen = returned_fen + 5",
            "vouchers_match_ledger",
        ),
        ("UPDATE enterprise_year_quotas SET held_fen = held_fen - 1", "caps_respected"),
        ("UPDATE programmes SET total_budget_fen = total_budget_fen + 1", "spent_within_budget"),
        (
            "UPDATE voucher_holds SET status = 'released', released_fen = amount_fen, "
            "resolved_at = placed_at, resolution_key = 'x'",
            "holds_resolved_once",
        ),
    ],
)
def test_verify_reports_each_breach(session, issue_voucher, place_hold, tamper, check):
    place_hold(issue_voucher())
    assert verify_ledger(session).ok
    session.execute(sa.text(tamper))
    report = verify_ledger(session)
    assert not report.ok
    assert check in {c.name for c in report.checks if not c.ok}


def test_verify_finds_an_unbalanced_transaction_inserted_behind_its_back(session, accounts):
    txn = session.scalars(sa.select(LedgerTransaction)).first()
    session.execute(
        sa.insert(LedgerEntry).values(
            transaction_id=txn.id, account_id=accounts.committed.id, side="credit", amount_fen=7
        )
    )
    report = verify_ledger(session)
    failed = {c.name for c in report.checks if not c.ok}
    assert {"transactions_balanced", "ledger_balanced", "cached_balances"} <= failed
