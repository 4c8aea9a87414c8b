"""Holds: the split rule, caps across programmes, capture and release, capture reversal,
idempotency, refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from marketplace.errors import NotFound
from marketplace.settlement.ledger_checks import verify_books
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers import holds, ledger
from vouchers.enums import (
    AccountKind,
    CapScope,
    HoldStatus,
    ProgrammeKind,
    TransactionKind,
    VoucherStatus,
)
from vouchers.errors import (
    AmountInvalid,
    CapExceeded,
    ClaimDeadlinePassed,
    EnterpriseBlacklisted,
    EnterpriseUnverified,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientFunds,
    NotEligible,
    VoucherExhausted,
    VoucherExpired,
    VoucherNotYetValid,
)
from vouchers.expiry import expire_voucher
from vouchers.ledger_models import LedgerEntry, LedgerTransaction
from vouchers.models import Hold, Quota
from vouchers.verify import verify_ledger


def _counts(session) -> tuple[int, int, int]:
    return tuple(
        session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Hold, LedgerTransaction, LedgerEntry)
    )


def test_hold_takes_the_smallest_bound(session, issue_voucher, place_hold):
    voucher = issue_voucher(amount_fen=1_000_000)
    # requested 300,000; 50% of 500,001 floors to 250,000; balance 1,000,000; cap 3,000,000
    hold = place_hold(voucher, requested_fen=300_000, price_fen=500_001)
    assert hold.amount_fen == 250_000
    assert (voucher.balance_fen, voucher.held_fen) == (750_000, 250_000)
    quota = session.scalars(sa.select(Quota)).one()
    assert (quota.year, quota.held_fen, quota.used_fen) == (VOUCHER_YEAR, 250_000, 0)
    small = place_hold(voucher, requested_fen=1_000, price_fen=1_000_000)
    assert small.amount_fen == 1_000  # the request itself binds
    rest = place_hold(voucher, requested_fen=2_000_000, price_fen=10_000_000)
    assert rest.amount_fen == 749_000  # the balance binds
    assert voucher.status is VoucherStatus.EXHAUSTED
    with pytest.raises(VoucherExhausted):
        place_hold(voucher)
    assert verify_ledger(session).ok


def test_the_cap_is_shared_across_programmes(
    session, create_enterprise, funded_programme, issue_voucher, place_hold
):
    enterprise = create_enterprise()
    # Last year's programme still usable this year: the enterprise holds more than one cap.
    older = funded_programme(
        year=VOUCHER_YEAR - 1,
        use_by=date(VOUCHER_YEAR, 12, 31),
        claim_deadline=date(VOUCHER_YEAR + 1, 3, 31),
    )
    newer = funded_programme(kind=ProgrammeKind.SERVICE)
    last_year = datetime(VOUCHER_YEAR - 1, 6, 1, 4, tzinfo=UTC)
    a = issue_voucher(enterprise, older, amount_fen=2_000_000, now=last_year)
    b = issue_voucher(enterprise, newer, amount_fen=2_000_000)
    first = place_hold(a, requested_fen=2_000_000, price_fen=4_000_000)
    second = place_hold(b, requested_fen=2_000_000, price_fen=4_000_000)
    assert (first.amount_fen, second.amount_fen) == (2_000_000, 1_000_000)  # cap 3,000,000
    with pytest.raises(CapExceeded) as info:
        place_hold(b, requested_fen=100, price_fen=1_000)
    assert info.value.code == "cap_exceeded"
    this_year = session.scalars(sa.select(Quota).where(Quota.year == VOUCHER_YEAR)).one()
    assert this_year.held_fen == 3_000_000


def test_a_programme_with_its_own_cap_counts_separately(
    session, create_enterprise, funded_programme, issue_voucher, place_hold
):
    enterprise = create_enterprise()
    shared = funded_programme()
    own = funded_programme(
        kind=ProgrammeKind.SERVICE, cap_scope=CapScope.PROGRAMME, annual_cap_fen=500_000
    )
    a = issue_voucher(enterprise, shared, amount_fen=3_000_000)
    b = issue_voucher(enterprise, own, amount_fen=500_000)
    assert place_hold(a, requested_fen=3_000_000, price_fen=6_000_000).amount_fen == 3_000_000
    assert place_hold(b, requested_fen=600_000, price_fen=2_000_000).amount_fen == 500_000
    scopes = {q.scope: q.held_fen for q in session.scalars(sa.select(Quota))}
    assert scopes == {"shared": 3_000_000, f"programme:{own.id}": 500_000}


def test_release_gives_the_money_back_and_capture_spends_it(
    session, issue_voucher, place_hold, create_provider
):
    provider = create_provider()
    voucher = issue_voucher(amount_fen=1_000_000)
    released = place_hold(voucher, requested_fen=400_000, price_fen=800_000)
    holds.release_hold(session, released, "rel-1", VOUCHER_NOW)
    assert (released.status, released.released_fen) == (HoldStatus.RELEASED, 400_000)
    assert (voucher.balance_fen, voucher.held_fen) == (1_000_000, 0)
    captured = place_hold(voucher, requested_fen=400_000, price_fen=800_000)
    holds.capture_hold(
        session, captured, "cap-1", VOUCHER_NOW, provider_id=provider.id, amount_fen=300_000
    )
    assert (captured.captured_fen, captured.released_fen) == (300_000, 100_000)
    assert (voucher.balance_fen, voucher.held_fen, voucher.used_fen) == (700_000, 0, 300_000)
    quota = session.scalars(sa.select(Quota)).one()
    assert (quota.used_fen, quota.held_fen) == (300_000, 0)
    assert verify_ledger(session).ok


def test_an_exhausted_voucher_becomes_active_again_on_release(session, issue_voucher, place_hold):
    voucher = issue_voucher(amount_fen=100_000)
    hold = place_hold(voucher, requested_fen=100_000, price_fen=200_000)
    assert voucher.status is VoucherStatus.EXHAUSTED
    holds.release_hold(session, hold, "r", VOUCHER_NOW)
    assert voucher.status is VoucherStatus.ACTIVE


def test_every_operation_has_exactly_one_effect_per_key(session, issue_voucher, create_provider):
    voucher = issue_voucher(amount_fen=1_000_000)
    provider = create_provider()
    first = holds.place_hold(session, voucher, "order-9", 100_000, 400_000, "hold-9", VOUCHER_NOW)
    before = _counts(session)
    again = holds.place_hold(session, voucher, "order-9", 100_000, 400_000, "hold-9", VOUCHER_NOW)
    assert again.id == first.id and _counts(session) == before
    assert voucher.balance_fen == 900_000
    with pytest.raises(IdempotencyConflict):
        holds.place_hold(session, voucher, "order-9", 200_000, 400_000, "hold-9", VOUCHER_NOW)
    holds.capture_hold(session, first, "cap-9", VOUCHER_NOW, provider_id=provider.id)
    after_capture = _counts(session)
    holds.capture_hold(session, first, "cap-9", VOUCHER_NOW, provider_id=provider.id)
    assert _counts(session) == after_capture and voucher.used_fen == 100_000
    with pytest.raises(HoldNotOpen):
        holds.capture_hold(session, first, "cap-other", VOUCHER_NOW, provider_id=provider.id)
    with pytest.raises(HoldNotOpen):
        holds.release_hold(session, first, "rel-9", VOUCHER_NOW)
    second = holds.place_hold(session, voucher, "order-10", 50_000, 400_000, "hold-10", VOUCHER_NOW)
    holds.release_hold(session, second, "rel-10", VOUCHER_NOW)
    after_release = _counts(session)
    holds.release_hold(session, second, "rel-10", VOUCHER_NOW)
    assert _counts(session) == after_release and voucher.balance_fen == 900_000
    assert verify_ledger(session).ok


@pytest.mark.parametrize(
    ("requested", "price"),
    [
        (0, 100),
        (-5, 100),
        (100, 0),
        (100, -1),
        (1.5, 100),
        (100, 100.0),
        ("100", 100),
        (True, 100),
        (10**13, 10**13),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(session, issue_voucher, requested, price):
    voucher = issue_voucher()
    before = _counts(session)
    with pytest.raises(AmountInvalid) as info:
        holds.place_hold(session, voucher, "o", requested, price, "k", VOUCHER_NOW)
    assert info.value.code == "amount_invalid"
    assert _counts(session) == before and voucher.balance_fen == voucher.face_value_fen


def test_a_price_too_small_for_a_whole_fen_is_refused(session, issue_voucher):
    voucher = issue_voucher()
    with pytest.raises(AmountInvalid):
        holds.place_hold(session, voucher, "o", 1, 1, "k", VOUCHER_NOW)  # 50% of 1 fen = 0


def test_capture_more_than_held_is_refused(session, issue_voucher, place_hold, create_provider):
    hold = place_hold(issue_voucher(), requested_fen=1_000, price_fen=10_000)
    with pytest.raises(AmountInvalid):
        holds.capture_hold(
            session, hold, "c", VOUCHER_NOW, provider_id=create_provider().id, amount_fen=1_001
        )
    assert hold.status is HoldStatus.OPEN


def test_blacklisted_or_unverified_enterprises_cannot_hold(
    session, create_enterprise, issue_voucher
):
    enterprise = create_enterprise()
    voucher = issue_voucher(enterprise)
    enterprise.blacklisted = True
    enterprise.blacklist_reason = "失信"
    session.flush()
    with pytest.raises(EnterpriseBlacklisted):
        holds.place_hold(session, voucher, "o", 100, 1_000, "k1", VOUCHER_NOW)
    enterprise.blacklisted = False
    enterprise.blacklist_reason = None
    enterprise.verification_status = enterprise.verification_status.REJECTED
    session.flush()
    with pytest.raises(EnterpriseUnverified):
        holds.place_hold(session, voucher, "o", 100, 1_000, "k2", VOUCHER_NOW)
    assert session.scalar(sa.select(sa.func.count()).select_from(Hold)) == 0


def test_dates_and_categories(session, issue_voucher, funded_programme):
    programme = funded_programme(eligible_categories=["testing"])
    voucher = issue_voucher(programme=programme)
    before_valid = datetime(VOUCHER_YEAR, 6, 1, tzinfo=UTC)
    with pytest.raises(VoucherNotYetValid):
        holds.place_hold(session, voucher, "o", 100, 1_000, "k1", before_valid)
    after_use_by = datetime(VOUCHER_YEAR + 1, 1, 2, tzinfo=UTC)
    with pytest.raises(VoucherExpired):
        holds.place_hold(session, voucher, "o", 100, 1_000, "k2", after_use_by)
    with pytest.raises(NotEligible):
        holds.place_hold(
            session, voucher, "o", 100, 1_000, "k3", VOUCHER_NOW, service_category="ip"
        )
    hold = holds.place_hold(
        session, voucher, "o", 100, 1_000, "k4", VOUCHER_NOW, service_category="testing"
    )
    assert hold.amount_fen == 100


def test_capture_after_the_claim_deadline_is_refused(
    session, issue_voucher, place_hold, create_provider
):
    hold = place_hold(issue_voucher())
    late = datetime(VOUCHER_YEAR + 1, 4, 2, tzinfo=UTC)
    with pytest.raises(ClaimDeadlinePassed):
        holds.capture_hold(session, hold, "c", late, provider_id=create_provider().id)


def test_preview_matches_what_a_hold_takes(session, issue_voucher):
    voucher = issue_voucher(amount_fen=300_000)
    split = holds.preview_split(session, voucher, 500_000, 800_000, VOUCHER_NOW)
    assert (split.voucher_fen, split.copay_fen, split.limited_by.value) == (
        300_000,
        500_000,
        "balance",
    )
    hold = holds.place_hold(session, voucher, "o", 500_000, 800_000, "k", VOUCHER_NOW)
    assert hold.amount_fen == split.voucher_fen


def test_the_quota_check_constraint_refuses_a_breach(session, issue_voucher, place_hold):
    place_hold(issue_voucher(amount_fen=1_000_000), requested_fen=1_000, price_fen=2_000)
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.execute(sa.text("UPDATE enterprise_year_quotas SET used_fen = cap_fen"))


# --------------------------------------------------------------------------- capture reversal


def _balance(session, kind, programme_id, **owner) -> int:
    account = ledger.get_account(session, kind, programme_id=programme_id, **owner)
    return ledger.balance_of(session, account)


def _captured(session, voucher, provider, *, amount_fen=100_000, place_hold):
    hold = place_hold(voucher, requested_fen=amount_fen, price_fen=2 * amount_fen)
    holds.capture_hold(session, hold, f"cap-{hold.id}", VOUCHER_NOW, provider_id=provider.id)
    return hold


def test_reversing_part_of_a_capture_gives_it_back_to_the_live_voucher(
    session, issue_voucher, place_hold, create_provider
):
    provider = create_provider()
    voucher = issue_voucher(amount_fen=1_000_000)
    hold = _captured(session, voucher, provider, place_hold=place_hold)
    pid = voucher.programme_id
    spent_before = _balance(session, AccountKind.BUDGET_SPENT, pid)
    holds.reverse_capture(session, hold.id, 40_000, "order:1:dispute", VOUCHER_NOW)
    assert (hold.status, hold.captured_fen, hold.released_fen) == (
        HoldStatus.CAPTURED,
        60_000,
        40_000,
    )
    assert (voucher.balance_fen, voucher.used_fen) == (940_000, 60_000)
    assert session.scalars(sa.select(Quota)).one().used_fen == 60_000
    assert _balance(session, AccountKind.PROVIDER_PAYABLE, pid, provider_id=provider.id) == 60_000
    assert _balance(session, AccountKind.BUDGET_SPENT, pid) == spent_before - 40_000
    txn = session.scalars(
        sa.select(LedgerTransaction).where(
            LedgerTransaction.idempotency_key == "hold.reverse:order:1:dispute"
        )
    ).one()
    # A reversal is a release posting on the hold but does not resolve it a second time.
    assert (txn.kind, txn.hold_id, txn.resolves_hold_id) == (TransactionKind.RELEASE, hold.id, None)
    assert verify_ledger(session).ok


def test_reversing_a_whole_capture_releases_the_hold_and_reactivates_the_voucher(
    session, issue_voucher, place_hold, create_provider
):
    provider = create_provider()
    voucher = issue_voucher(amount_fen=100_000)
    hold = _captured(session, voucher, provider, place_hold=place_hold)
    assert voucher.status is VoucherStatus.EXHAUSTED
    holds.reverse_capture(session, hold.id, 100_000, "k", VOUCHER_NOW)
    assert (hold.status, hold.release_reason, hold.captured_fen) == (
        HoldStatus.RELEASED,
        "dispute_upheld",
        0,
    )
    assert (voucher.status, voucher.balance_fen, voucher.used_fen) == (
        VoucherStatus.ACTIVE,
        100_000,
        0,
    )
    assert verify_ledger(session).ok


def test_a_reversal_after_expiry_goes_back_to_the_programme_budget(
    session, issue_voucher, place_hold, create_provider
):
    provider = create_provider()
    voucher = issue_voucher(amount_fen=1_000_000)
    hold = _captured(session, voucher, provider, place_hold=place_hold)
    expire_voucher(session, voucher.id, today=date(VOUCHER_YEAR + 1, 1, 1))
    pid = voucher.programme_id
    available = _balance(session, AccountKind.BUDGET_AVAILABLE, pid)
    holds.reverse_capture(session, hold.id, 30_000, "k", VOUCHER_NOW)
    assert (voucher.status, voucher.balance_fen) == (VoucherStatus.EXPIRED, 0)
    assert (voucher.returned_fen, voucher.used_fen) == (930_000, 70_000)
    assert _balance(session, AccountKind.BUDGET_AVAILABLE, pid) == available + 30_000
    assert verify_ledger(session).ok


def test_a_reversal_happens_once_per_key_and_is_refused_when_impossible(
    session, issue_voucher, place_hold, create_provider
):
    provider = create_provider()
    voucher = issue_voucher(amount_fen=1_000_000)
    hold = _captured(session, voucher, provider, place_hold=place_hold)
    holds.reverse_capture(session, hold.id, 10_000, "once", VOUCHER_NOW)
    before = _counts(session)
    again = holds.reverse_capture(session, hold.id, 10_000, "once", VOUCHER_NOW)
    assert again.captured_fen == 90_000 and _counts(session) == before
    for amount in (0, -1, 90_001, True):
        with pytest.raises(AmountInvalid):
            holds.reverse_capture(session, hold.id, amount, f"bad-{amount}", VOUCHER_NOW)
    open_hold = place_hold(voucher)
    with pytest.raises(HoldNotOpen):
        holds.reverse_capture(session, open_hold.id, 1, "open", VOUCHER_NOW)
    with pytest.raises(NotFound):
        holds.reverse_capture(session, 10**12, 1, "missing", VOUCHER_NOW)
    assert _counts(session) == (before[0] + 1, before[1] + 1, before[2] + 2)  # the new hold only
    assert hold.captured_fen == 90_000
    assert verify_ledger(session).ok


def test_money_already_paid_out_cannot_be_reversed(
    session, issue_voucher, place_hold, create_provider
):
    provider = create_provider()
    voucher = issue_voucher(amount_fen=1_000_000)
    hold = _captured(session, voucher, provider, place_hold=place_hold)
    pid = voucher.programme_id
    payable = ledger.get_account(
        session, AccountKind.PROVIDER_PAYABLE, programme_id=pid, provider_id=provider.id
    )
    paid = ledger.get_account(
        session, AccountKind.PROVIDER_PAID, programme_id=pid, provider_id=provider.id
    )
    ledger.post(
        session,
        "payout:test",
        TransactionKind.PAYOUT,
        ledger.transfer(payable, paid, 100_000),
        programme_id=pid,
        now=VOUCHER_NOW,
    )
    with pytest.raises(InsufficientFunds):
        holds.reverse_capture(session, hold.id, 1, "late", VOUCHER_NOW)
    assert (hold.captured_fen, voucher.used_fen) == (100_000, 100_000)
    # The voucher books close; only the payout side (marketplace.settlement.ledger_checks) sees
    # that no payment line confirmed by the bank stands behind this posting.
    assert verify_ledger(session).ok
    report = verify_books(session)
    assert [c.name for c in report.checks if not c.ok] == ["provider_paid"]
