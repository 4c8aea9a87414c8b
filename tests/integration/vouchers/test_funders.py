"""Funders and their shares: the split recorded per hold, the funder leg of holds, captures,
releases and reversals, budgets per funder, "use anywhere, pay at home", and `ledger verify`
naming an order whose funders' parts do not add up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.models import AuditEvent
from marketplace.errors import PreconditionFailed, ValidationFailed
from marketplace.settlement.ledger_checks import verify_books
from tests.support.voucher_fixtures import VOUCHER_NOW, co_fund, make_treasury, next_key
from vouchers import funders, holds, ledger
from vouchers.enums import AccountKind, FunderLevel, FundingBody, HoldStatus, ProgrammeKind
from vouchers.errors import (
    DuplicateFunder,
    FunderBudgetExceeded,
    NoHomeFunder,
    SharesInvalid,
    SharesLocked,
)
from vouchers.funder_models import Funder, HoldFunderPart
from vouchers.funders import FunderInput, ShareInput
from vouchers.ledger_models import LedgerAccount, LedgerEntry
from vouchers.models import Enterprise, Hold, Programme, Voucher


@dataclass
class CoFunded:
    programme: Programme
    province: Funder
    kunming: Funder
    qujing: Funder


@pytest.fixture
def co_funded(session: Session, funded_programme: Callable[..., Programme]) -> CoFunded:
    """Province 50 % / the SME's home prefecture 50 %; Kunming and Qujing fund their part."""
    programme = funded_programme()
    province, kunming, qujing = co_fund(session, programme, (10_000_000, 5_000_000, 200_001))
    return CoFunded(programme, province, kunming, qujing)


def _voucher(
    issue_voucher: Callable[..., Voucher],
    create_enterprise: Callable[..., Enterprise],
    programme: Programme,
    division: str,
) -> Voucher:
    return issue_voucher(create_enterprise(division=division), programme, amount_fen=2_000_000)


def _parts(session: Session, hold: Hold) -> dict[int, tuple[int, int, int]]:
    return {
        p.funder_id: (p.held_fen, p.captured_fen, p.released_fen)
        for p in session.scalars(sa.select(HoldFunderPart).where(HoldFunderPart.hold_id == hold.id))
    }


def _balance(session: Session, programme: Programme, funder: Funder, kind: AccountKind) -> int:
    account = ledger.get_account(session, kind, programme_id=programme.id, funder_id=funder.id)
    return ledger.balance_of(session, account)


def _verified(session: Session) -> None:
    report = verify_books(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]


def test_a_hold_splits_between_the_province_and_the_home_prefecture(
    session, co_funded, issue_voucher, create_enterprise
):
    cf = co_funded
    assert cf.programme.co_funded
    voucher = _voucher(issue_voucher, create_enterprise, cf.programme, "530102")  # Kunming
    # 50 % of 200,003 → 100,001 fen voucher part; the odd fen goes to the first share.
    hold = holds.place_hold(session, voucher, "order:1", 150_000, 200_003, next_key(), VOUCHER_NOW)
    assert hold.amount_fen == 100_001
    assert _parts(session, hold) == {cf.province.id: (50_001, 0, 0), cf.kunming.id: (50_000, 0, 0)}
    assert _balance(session, cf.programme, cf.province, AccountKind.FUNDER_HELD) == 50_001
    assert _balance(session, cf.programme, cf.kunming, AccountKind.FUNDER_AVAILABLE) == 4_950_000
    assert _balance(session, cf.programme, cf.qujing, AccountKind.FUNDER_HELD) == 0
    _verified(session)


def test_use_anywhere_pay_at_home(
    session, co_funded, issue_voucher, create_enterprise, create_provider
):
    """A Qujing SME orders from a Kunming provider: Qujing's treasury pays the home share."""
    cf = co_funded
    voucher = _voucher(issue_voucher, create_enterprise, cf.programme, "530302")  # Qujing
    provider = create_provider(division="530102")  # Kunming
    hold = holds.place_hold(session, voucher, "order:2", 100_000, 200_000, next_key(), VOUCHER_NOW)
    holds.capture_hold(session, hold, next_key(), VOUCHER_NOW, provider_id=provider.id)
    assert _parts(session, hold) == {
        cf.province.id: (50_000, 50_000, 0),
        cf.qujing.id: (50_000, 50_000, 0),
    }
    assert _balance(session, cf.programme, cf.qujing, AccountKind.FUNDER_SPENT) == 50_000
    assert _balance(session, cf.programme, cf.kunming, AccountKind.FUNDER_SPENT) == 0
    _verified(session)


def test_a_partial_capture_splits_by_the_held_parts_and_releases_the_rest(
    session, co_funded, issue_voucher, create_enterprise, create_provider
):
    cf = co_funded
    voucher = _voucher(issue_voucher, create_enterprise, cf.programme, "530102")
    provider = create_provider()
    hold = holds.place_hold(session, voucher, "order:3", 100_001, 300_000, next_key(), VOUCHER_NOW)
    holds.capture_hold(
        session, hold, next_key(), VOUCHER_NOW, provider_id=provider.id, amount_fen=70_001
    )
    # Held 50,001 / 50,000; captured 70,001 split by them: 35,001 / 35,000.
    assert _parts(session, hold) == {
        cf.province.id: (50_001, 35_001, 15_000),
        cf.kunming.id: (50_000, 35_000, 15_000),
    }
    assert _balance(session, cf.programme, cf.province, AccountKind.FUNDER_AVAILABLE) == (
        10_000_000 - 35_001
    )
    # A dispute upheld after confirmation gives 10,001 back, split by what was captured.
    holds.reverse_capture(session, hold.id, 10_001, next_key(), VOUCHER_NOW)
    assert _parts(session, hold) == {
        cf.province.id: (50_001, 30_000, 20_001),
        cf.kunming.id: (50_000, 30_000, 20_000),
    }
    assert sum(c for _, c, _ in _parts(session, hold).values()) == hold.captured_fen
    _verified(session)


def test_a_release_gives_every_funder_its_part_back(
    session, co_funded, issue_voucher, create_enterprise
):
    cf = co_funded
    voucher = _voucher(issue_voucher, create_enterprise, cf.programme, "530102")
    hold = holds.place_hold(session, voucher, "order:4", 77_777, 200_000, next_key(), VOUCHER_NOW)
    holds.release_hold(session, hold, next_key(), VOUCHER_NOW)
    assert hold.status is HoldStatus.RELEASED
    assert _parts(session, hold) == {
        cf.province.id: (38_889, 0, 38_889),
        cf.kunming.id: (38_888, 0, 38_888),
    }
    for funder, budget in ((cf.province, 10_000_000), (cf.kunming, 5_000_000)):
        assert _balance(session, cf.programme, funder, AccountKind.FUNDER_AVAILABLE) == budget
        assert _balance(session, cf.programme, funder, AccountKind.FUNDER_HELD) == 0
    _verified(session)


def test_a_retried_hold_records_its_parts_once(
    session, co_funded, issue_voucher, create_enterprise
):
    voucher = _voucher(issue_voucher, create_enterprise, co_funded.programme, "530102")
    key = next_key()
    first = holds.place_hold(session, voucher, "order:5", 10_000, 20_000, key, VOUCHER_NOW)
    again = holds.place_hold(session, voucher, "order:5", 10_000, 20_000, key, VOUCHER_NOW)
    assert again.id == first.id
    assert len(_parts(session, first)) == 2
    _verified(session)


def test_no_funder_at_home_refuses_the_hold(session, co_funded, issue_voucher, create_enterprise):
    voucher = _voucher(issue_voucher, create_enterprise, co_funded.programme, "530502")  # Baoshan
    before = session.scalar(sa.select(sa.func.count()).select_from(Hold))
    with pytest.raises(NoHomeFunder) as caught:
        holds.place_hold(session, voucher, "order:6", 10_000, 20_000, next_key(), VOUCHER_NOW)
    assert caught.value.extra["region_code"] == "530500"
    assert session.scalar(sa.select(sa.func.count()).select_from(Hold)) == before


def test_each_funders_budget_is_checked(session, co_funded, issue_voucher, create_enterprise):
    cf = co_funded
    voucher = _voucher(issue_voucher, create_enterprise, cf.programme, "530302")  # Qujing
    holds.place_hold(session, voucher, "order:7", 200_000, 400_000, next_key(), VOUCHER_NOW)
    assert _balance(session, cf.programme, cf.qujing, AccountKind.FUNDER_AVAILABLE) == 100_001
    # Qujing has 100,001 fen left: a part of 100,002 is refused, one of 100,001 is not.
    with pytest.raises(FunderBudgetExceeded) as caught:
        holds.place_hold(session, voucher, "order:8", 200_004, 400_008, next_key(), VOUCHER_NOW)
    assert caught.value.extra["funder_id"] == cf.qujing.id
    holds.place_hold(session, voucher, "order:9", 200_002, 400_004, next_key(), VOUCHER_NOW)
    assert _balance(session, cf.programme, cf.qujing, AccountKind.FUNDER_AVAILABLE) == 0
    # A budget cannot fall below what its holds use; it can rise.
    with pytest.raises(FunderBudgetExceeded):
        funders.set_budget(session, cf.programme.id, cf.qujing.id, 200_000, actor_id=None)
    funders.set_budget(session, cf.programme.id, cf.qujing.id, 300_000, actor_id=None)
    assert _balance(session, cf.programme, cf.qujing, AccountKind.FUNDER_AVAILABLE) == 99_999
    _verified(session)


def test_shares_must_add_up_and_are_locked_once_vouchers_are_issued(
    session, co_funded, issue_voucher, create_enterprise
):
    cf = co_funded
    with pytest.raises(SharesInvalid):
        funders.set_shares(
            session,
            cf.programme.id,
            [
                ShareInput(5_000, funder_id=cf.province.id),
                ShareInput(4_999, funder_id=cf.qujing.id),
            ],
            expected_version=cf.programme.version,
            actor_id=None,
        )
    with pytest.raises(SharesInvalid):
        funders.set_shares(
            session,
            cf.programme.id,
            [ShareInput(10_000, home_level=FunderLevel.PROVINCE)],
            expected_version=cf.programme.version,
            actor_id=None,
        )
    with pytest.raises(PreconditionFailed):
        funders.set_shares(
            session,
            cf.programme.id,
            [ShareInput(10_000, funder_id=cf.province.id)],
            expected_version=cf.programme.version - 1,
            actor_id=None,
        )
    # Once a voucher is issued (no hold yet) the shares stay as they are.
    _voucher(issue_voucher, create_enterprise, cf.programme, "530102")
    with pytest.raises(SharesLocked):
        funders.set_shares(
            session,
            cf.programme.id,
            [ShareInput(10_000, funder_id=cf.province.id)],
            expected_version=cf.programme.version,
            actor_id=None,
        )


def test_a_single_funder_programme_posts_no_funder_leg(
    session, funded_programme, issue_voucher, create_enterprise
):
    programme = funded_programme()
    province = make_treasury(session, "云南省财政厅", "530000")
    funders.set_shares(
        session,
        programme.id,
        [ShareInput(10_000, funder_id=province.id)],
        expected_version=programme.version,
        actor_id=None,
    )
    assert not programme.co_funded
    voucher = _voucher(issue_voucher, create_enterprise, programme, "530302")
    hold = holds.place_hold(session, voucher, "order:11", 10_000, 20_000, next_key(), VOUCHER_NOW)
    assert _parts(session, hold) == {}
    funder_entries = session.scalar(
        sa.select(sa.func.count())
        .select_from(LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.funder_id.is_not(None))
    )
    assert funder_entries == 0
    _verified(session)


def test_funders_are_validated_unique_and_audited(session):
    funder = make_treasury(session, "大理州财政局", "5329")
    assert (funder.region_code, funder.level) == ("532900", FunderLevel.PREFECTURE)
    with pytest.raises(DuplicateFunder):
        make_treasury(session, "大理州财政局（重复）", "532900")
    with pytest.raises(ValidationFailed) as caught:
        funders.create_funder(session, FunderInput("无效", "539999"), actor_id=None)
    assert "region_code" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        funders.create_funder(
            session,
            FunderInput("半套账户", "530400", bank_account_number="123456789"),
            actor_id=None,
        )
    assert "bank_account_number" in caught.value.errors
    updated = funders.update_funder(
        session,
        funder.id,
        FunderInput("大理白族自治州财政局", "532900"),
        expected_version=funder.version,
        actor_id=None,
    )
    assert updated.bank_account_number is None and updated.version == 2
    with pytest.raises(ValidationFailed):
        funders.update_funder(
            session, funder.id, FunderInput("别处", "530100"), expected_version=2, actor_id=None
        )
    actions = session.scalars(
        sa.select(AuditEvent.action).where(
            AuditEvent.subject_type == "funder", AuditEvent.subject_id == funder.id
        )
    ).all()
    assert list(actions) == ["funder.created", "funder.updated"]


def test_ledger_verify_names_an_order_whose_parts_do_not_add_up(
    session, co_funded, issue_voucher, create_enterprise
):
    voucher = _voucher(issue_voucher, create_enterprise, co_funded.programme, "530102")
    hold = holds.place_hold(session, voucher, "order:4242", 10_001, 20_002, next_key(), VOUCHER_NOW)
    _verified(session)
    session.execute(
        sa.text(
            "UPDATE hold_funder_parts SET held_fen = held_fen - 1 "
            "WHERE hold_id = :hold AND funder_id = :funder"
        ),
        {"hold": hold.id, "funder": co_funded.kunming.id},
    )
    report = verify_books(session)
    breaches = {c.name: c.breaches for c in report.checks if c.breaches}
    assert set(breaches) == {"funder_parts", "funder_budgets"}
    assert breaches["funder_parts"] == [
        f"order:4242 (hold {hold.id}): funders' parts 10000 ≠ voucher part 10001 "
        "(captured 0 vs 0, released 0 vs 0)"
    ]


def test_redemptions_per_paying_treasury(
    session, co_funded, funded_programme, issue_voucher, create_enterprise, create_provider
):
    """Co-funded orders count by their parts, a single-funder programme's wholly for its
    funder, a programme naming no funder for its own budget (its funding body)."""
    cf = co_funded
    single = funded_programme(kind=ProgrammeKind.SERVICE)
    funders.set_shares(
        session,
        single.id,
        [ShareInput(10_000, funder_id=cf.kunming.id)],
        expected_version=single.version,
        actor_id=None,
    )
    unnamed = funded_programme(
        kind=ProgrammeKind.INNOVATION,
        year=2025,
        use_by=date(2026, 12, 31),
        claim_deadline=date(2027, 3, 31),
    )
    provider = create_provider()
    for programme, division, amount in (
        (cf.programme, "530302", 10_001),
        (single, "530102", 20_000),
        (unnamed, "530102", 30_000),
    ):
        when = VOUCHER_NOW if programme.year == 2026 else datetime(2025, 6, 1, 4, tzinfo=UTC)
        voucher = issue_voucher(create_enterprise(division=division), programme, now=when)
        hold = holds.place_hold(
            session, voucher, next_key("order"), amount, amount * 2, next_key(), VOUCHER_NOW
        )
        holds.capture_hold(session, hold, next_key(), VOUCHER_NOW, provider_id=provider.id)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    found = {
        (r.funder_id, r.funding_body): (r.orders, r.redeemed_fen)
        for r in funders.redeemed_by_funder(session, start, datetime(2027, 1, 1, tzinfo=UTC))
    }
    assert found == {
        (cf.province.id, None): (1, 5_001),
        (cf.qujing.id, None): (1, 5_000),
        (cf.kunming.id, None): (1, 20_000),
        (None, FundingBody.PROVINCIAL): (1, 30_000),
    }
    _verified(session)
