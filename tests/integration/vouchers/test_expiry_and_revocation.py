"""Expiry (service and ``flask vouchers expire``), the open-holds rule, revocation, and
``flask ledger verify``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from marketplace.errors import ReasonRequired
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers import expiry, holds, ledger
from vouchers.enums import HoldStatus, VoucherStatus
from vouchers.errors import InvalidTransition, VoucherExpired, VoucherRevoked
from vouchers.ledger_models import LedgerTransaction
from vouchers.models import RecoveryFlag, Voucher
from vouchers.verify import verify_ledger

AFTER_USE_BY = date(VOUCHER_YEAR + 1, 1, 1)
AFTER_CLAIMS = date(VOUCHER_YEAR + 1, 4, 1)
LATER = datetime(VOUCHER_YEAR + 1, 1, 10, 4, tzinfo=UTC)


def _available(session, programme_id: int) -> int:
    return ledger.balance_of(session, ledger.programme_accounts(session, programme_id).available)


def test_expiry_returns_the_unused_balance_once(
    session, issue_voucher, place_hold, create_provider
):
    voucher = issue_voucher(amount_fen=1_000_000)
    spent = place_hold(voucher, requested_fen=200_000, price_fen=400_000)
    holds.capture_hold(session, spent, "c", VOUCHER_NOW, provider_id=create_provider().id)
    before = _available(session, voucher.programme_id)
    assert expiry.vouchers_due(session, date(VOUCHER_YEAR, 12, 31)) == []
    assert expiry.vouchers_due(session, AFTER_USE_BY) == [voucher.id]
    assert expiry.expire_voucher(session, voucher.id, today=AFTER_USE_BY, now=LATER) == 800_000
    assert (voucher.status, voucher.balance_fen, voucher.returned_fen) == (
        VoucherStatus.EXPIRED,
        0,
        800_000,
    )
    assert _available(session, voucher.programme_id) == before + 800_000
    txns = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    assert expiry.expire_voucher(session, voucher.id, today=AFTER_USE_BY, now=LATER) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == txns
    assert expiry.vouchers_due(session, AFTER_USE_BY) == []
    with pytest.raises(VoucherExpired):
        holds.place_hold(session, voucher, "o", 100, 1_000, "late", LATER)
    assert verify_ledger(session).ok


def test_open_holds_outlive_expiry_until_the_claim_deadline(
    session, issue_voucher, place_hold, create_provider
):
    voucher = issue_voucher(amount_fen=1_000_000)
    to_capture = place_hold(voucher, requested_fen=100_000, price_fen=200_000)
    to_release = place_hold(voucher, requested_fen=100_000, price_fen=200_000)
    stale = place_hold(voucher, requested_fen=100_000, price_fen=200_000)
    expiry.expire_voucher(session, voucher.id, today=AFTER_USE_BY, now=LATER)
    assert (voucher.balance_fen, voucher.held_fen) == (0, 300_000)
    # The order completes after the use-by date but before the claim deadline.
    holds.capture_hold(session, to_capture, "c", LATER, provider_id=create_provider().id)
    # A cancelled order's hold goes back to the budget, not to the expired voucher.
    before = _available(session, voucher.programme_id)
    holds.release_hold(session, to_release, "r", LATER)
    assert voucher.balance_fen == 0 and voucher.returned_fen == 800_000
    assert _available(session, voucher.programme_id) == before + 100_000
    # After the claim deadline, whatever is still held is released to the budget.
    assert expiry.stale_holds(session, date(VOUCHER_YEAR + 1, 3, 31)) == []
    assert expiry.stale_holds(session, AFTER_CLAIMS) == [stale.id]
    assert expiry.release_stale_hold(session, stale.id, today=AFTER_CLAIMS) == 100_000
    assert stale.status is HoldStatus.RELEASED and stale.release_reason == "claim_deadline"
    assert expiry.release_stale_hold(session, stale.id, today=AFTER_CLAIMS) == 0
    assert (voucher.held_fen, voucher.used_fen, voucher.returned_fen) == (0, 100_000, 900_000)
    assert verify_ledger(session).ok


def test_revocation_releases_returns_and_flags(session, issue_voucher, place_hold, create_provider):
    voucher = issue_voucher(amount_fen=1_000_000)
    spent = place_hold(voucher, requested_fen=300_000, price_fen=600_000)
    holds.capture_hold(session, spent, "c", VOUCHER_NOW, provider_id=create_provider().id)
    held = place_hold(voucher, requested_fen=100_000, price_fen=600_000)
    before = _available(session, voucher.programme_id)
    with pytest.raises(ReasonRequired):
        expiry.revoke_voucher(session, voucher.id, reason="", actor_id=None, idempotency_key="k")
    expiry.revoke_voucher(
        session,
        voucher.id,
        reason="虚开发票",
        actor_id=None,
        idempotency_key="revoke-1",
        now=VOUCHER_NOW,
    )
    assert voucher.status is VoucherStatus.REVOKED
    assert (voucher.balance_fen, voucher.held_fen, voucher.used_fen, voucher.returned_fen) == (
        0,
        0,
        300_000,
        700_000,
    )
    assert held.status is HoldStatus.RELEASED and held.release_reason == "revoked"
    assert _available(session, voucher.programme_id) == before + 700_000
    flag = session.scalars(sa.select(RecoveryFlag)).one()
    assert (flag.voucher_id, flag.amount_fen, flag.reason) == (voucher.id, 300_000, "虚开发票")
    # Same key: no second effect. Another key: refused.
    txns = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    again = expiry.revoke_voucher(
        session, voucher.id, reason="虚开发票", actor_id=None, idempotency_key="revoke-1"
    )
    assert again.id == voucher.id
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == txns
    with pytest.raises(InvalidTransition):
        expiry.revoke_voucher(session, voucher.id, reason="x", actor_id=None, idempotency_key="2")
    with pytest.raises(VoucherRevoked):
        holds.place_hold(session, voucher, "o", 100, 1_000, "after", VOUCHER_NOW)
    assert verify_ledger(session).ok


def test_revoking_an_untouched_voucher_flags_nothing(session, issue_voucher):
    voucher = issue_voucher(amount_fen=500_000)
    expiry.revoke_voucher(
        session, voucher.id, reason="重复发放", actor_id=None, idempotency_key="r"
    )
    assert voucher.returned_fen == 500_000
    assert session.scalar(sa.select(sa.func.count()).select_from(RecoveryFlag)) == 0


def test_expire_command_is_safe_to_rerun(app, session, issue_voucher, funded_programme):
    programme = funded_programme()
    first = issue_voucher(programme=programme, amount_fen=300_000)
    second = issue_voucher(programme=programme, amount_fen=200_000)
    holds.place_hold(session, second, "o", 50_000, 200_000, "k", VOUCHER_NOW)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["vouchers", "expire", "--today", str(AFTER_CLAIMS)])
    assert result.exit_code == 0, result.output
    assert "expired 2 voucher(s), returned ¥4,500.00" in result.output
    assert "released 1 stale hold(s), ¥500.00" in result.output
    session.expire_all()
    assert {v.status for v in session.scalars(sa.select(Voucher))} == {VoucherStatus.EXPIRED}
    assert session.get(Voucher, first.id).returned_fen == 300_000
    again = runner.invoke(args=["vouchers", "expire", "--today", str(AFTER_CLAIMS)])
    assert again.exit_code == 0
    assert "expired 0 voucher(s), returned ¥0.00" in again.output
    assert "released 0 stale hold(s)" in again.output
    assert verify_ledger(session).ok


def test_ledger_verify_command(app, session, issue_voucher):
    issue_voucher()
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "[OK  ] transactions_balanced" in ok.output
    assert "[OK  ] caps_respected" in ok.output
    assert "no breach" in ok.output
    session.execute(sa.text("UPDATE ledger_accounts SET balance_fen = balance_fen + 1"))
    broken = runner.invoke(args=["ledger", "verify"])
    assert broken.exit_code == 1
    assert "[FAIL] cached_balances" in broken.output
