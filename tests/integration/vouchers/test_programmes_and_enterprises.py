"""Programmes (create, budget changes through the ledger, rules frozen once vouchers exist) and
enterprises (verification, dishonesty list, profile)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
import sqlalchemy as sa

from marketplace.enums import ServiceCategory, SizeClass
from marketplace.errors import PreconditionFailed, ReasonRequired, ValidationFailed
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers import applications, enterprises, holds, ledger, programmes
from vouchers.enums import (
    BlacklistAction,
    CapScope,
    FundingBody,
    ProgrammeKind,
    VerificationStatus,
)
from vouchers.errors import (
    AmountInvalid,
    BudgetExceeded,
    DateInFuture,
    DatesOutOfOrder,
    DuplicateProgramme,
    EnterpriseBlacklisted,
    InvalidTransition,
    ProgrammeRulesLocked,
)
from vouchers.ledger_models import LedgerTransaction
from vouchers.models import (
    DEFAULT_ANNUAL_CAP_FEN,
    BlacklistEvent,
    EnterpriseVerificationEvent,
    Programme,
)
from vouchers.verify import verify_ledger
from vouchers.wallet import wallet_of


def _input(**overrides) -> programmes.ProgrammeInput:
    values = dict(
        kind=ProgrammeKind.INNOVATION,
        year=VOUCHER_YEAR,
        name=f"{VOUCHER_YEAR}年度科技创新券",
        funding_body=FundingBody.PROVINCIAL,
        total_budget_fen=10_000_000,
        cap_scope=CapScope.SHARED,
        annual_cap_fen=DEFAULT_ANNUAL_CAP_FEN,
        ceiling_bps=5_000,
        eligible_categories=[ServiceCategory.TESTING.value, ServiceCategory.IP.value],
        eligible_size_classes=[s.value for s in SizeClass],
        region_prefix="53",
        applications_open_on=date(VOUCHER_YEAR, 1, 1),
        applications_close_on=date(VOUCHER_YEAR, 12, 31),
        use_by=date(VOUCHER_YEAR, 12, 31),
        claim_deadline=date(VOUCHER_YEAR + 1, 3, 31),
        low_budget_alert_bps=1_000,
        notice_days=7,
    )
    values.update(overrides)
    return programmes.ProgrammeInput(**values)


def _budget(session, programme) -> programmes.Budget:
    return programmes.budgets(session, [programme.id])[0]


def test_creating_a_programme_grants_its_budget(session):
    programme = programmes.create_programme(session, _input(), actor_id=None, now=VOUCHER_NOW)
    budget = _budget(session, programme)
    assert (budget.total_fen, budget.available_fen, budget.committed_fen) == (10_000_000,) * 2 + (
        0,
    )
    assert verify_ledger(session).ok
    with pytest.raises(DuplicateProgramme):
        programmes.create_programme(session, _input(), actor_id=None)


def test_a_shared_cap_programme_uses_the_policy_cap(session):
    programme = programmes.create_programme(
        session, _input(annual_cap_fen=1_000), actor_id=None, now=VOUCHER_NOW
    )
    assert programme.annual_cap_fen == DEFAULT_ANNUAL_CAP_FEN
    own = programmes.create_programme(
        session,
        _input(kind=ProgrammeKind.SERVICE, cap_scope=CapScope.PROGRAMME, annual_cap_fen=1_000_000),
        actor_id=None,
    )
    assert own.annual_cap_fen == 1_000_000


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"total_budget_fen": 0}, AmountInvalid),
        ({"total_budget_fen": 1.5}, AmountInvalid),
        ({"annual_cap_fen": -1}, AmountInvalid),
        ({"ceiling_bps": 0}, ValidationFailed),
        ({"ceiling_bps": 10_001}, ValidationFailed),
        ({"eligible_categories": []}, ValidationFailed),
        ({"eligible_size_classes": ["huge"]}, ValidationFailed),
        ({"region_prefix": "00"}, ValidationFailed),
        ({"year": 1999}, ValidationFailed),
        ({"applications_close_on": date(VOUCHER_YEAR - 1, 12, 31)}, DatesOutOfOrder),
        ({"claim_deadline": date(VOUCHER_YEAR, 6, 30)}, DatesOutOfOrder),
    ],
)
def test_invalid_programmes_write_nothing(session, overrides, error):
    with pytest.raises(error):
        programmes.create_programme(session, _input(**overrides), actor_id=None)
    assert session.scalar(sa.select(sa.func.count()).select_from(Programme)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 0


def test_budget_changes_are_posted_and_cannot_undercut_commitments(session, submit_application):
    programme = programmes.create_programme(session, _input(), actor_id=None, now=VOUCHER_NOW)
    data = programmes.programme_input_from(programme)
    programmes.update_programme(
        session,
        programme.id,
        dataclasses.replace(data, total_budget_fen=12_000_000),
        expected_version=1,
        actor_id=None,
    )
    assert _budget(session, programme).available_fen == 12_000_000
    application = submit_application(programme=programme, requested_fen=3_000_000)
    applications.approve(session, application.id, actor_id=None, now=VOUCHER_NOW)
    with pytest.raises(BudgetExceeded):
        programmes.update_programme(
            session,
            programme.id,
            dataclasses.replace(data, total_budget_fen=2_999_999),
            expected_version=2,
            actor_id=None,
        )
    programmes.update_programme(
        session,
        programme.id,
        dataclasses.replace(data, total_budget_fen=3_000_000),
        expected_version=2,
        actor_id=None,
    )
    budget = _budget(session, programme)
    assert (budget.total_fen, budget.available_fen, budget.committed_fen) == (
        3_000_000,
        0,
        3_000_000,
    )
    assert budget.low and verify_ledger(session).ok


def test_rules_freeze_once_vouchers_exist(session, funded_programme, issue_voucher):
    programme = funded_programme()
    data = programmes.programme_input_from(programme)
    changed = programmes.update_programme(
        session,
        programme.id,
        dataclasses.replace(data, ceiling_bps=4_000),
        expected_version=1,
        actor_id=None,
    )
    assert changed.ceiling_bps == 4_000
    issue_voucher(programme=programme)
    data = programmes.programme_input_from(programme)
    for field, value in (
        ("ceiling_bps", 5_000),
        ("region_prefix", "5301"),
        ("use_by", date(VOUCHER_YEAR, 11, 30)),
        ("eligible_categories", ["ip"]),
    ):
        with pytest.raises(ProgrammeRulesLocked) as info:
            programmes.update_programme(
                session,
                programme.id,
                dataclasses.replace(data, **{field: value}),
                expected_version=programme.version,
                actor_id=None,
            )
        assert info.value.extra["fields"] == [field]
    # Category order is not a change; the name and the window still are editable.
    renamed = programmes.update_programme(
        session,
        programme.id,
        dataclasses.replace(
            data,
            name="新名称",
            applications_close_on=date(VOUCHER_YEAR, 9, 30),
            eligible_categories=list(reversed(data.eligible_categories)),
        ),
        expected_version=programme.version,
        actor_id=None,
    )
    assert renamed.name == "新名称"
    with pytest.raises(PreconditionFailed):
        programmes.update_programme(session, programme.id, data, expected_version=1, actor_id=None)


def test_verification_moves_and_history(session, create_enterprise, create_user):
    enterprise = create_enterprise(verification_status=VerificationStatus.PENDING)
    with pytest.raises(ReasonRequired):
        enterprises.decide_verification(
            session, enterprise.id, VerificationStatus.REJECTED, note=" ", actor_id=None
        )
    enterprises.decide_verification(
        session, enterprise.id, VerificationStatus.REJECTED, note="执照过期", actor_id=None
    )
    enterprises.decide_verification(
        session, enterprise.id, VerificationStatus.VERIFIED, note=None, actor_id=None
    )
    with pytest.raises(InvalidTransition):
        enterprises.decide_verification(
            session, enterprise.id, VerificationStatus.VERIFIED, note=None, actor_id=None
        )
    events = session.scalars(
        sa.select(EnterpriseVerificationEvent).order_by(EnterpriseVerificationEvent.id)
    ).all()
    assert [(e.from_status.value, e.to_status.value, e.note) for e in events] == [
        ("pending", "rejected", "执照过期"),
        ("rejected", "verified", None),
    ]


def test_blacklisting_blocks_new_holds_and_keeps_history(session, create_enterprise, issue_voucher):
    enterprise = create_enterprise()
    voucher = issue_voucher(enterprise)
    today = date(VOUCHER_YEAR, 6, 15)
    with pytest.raises(DateInFuture):
        enterprises.blacklist_enterprise(
            session,
            enterprise.id,
            reason="r",
            source="s",
            listed_on=date(VOUCHER_YEAR, 6, 16),
            actor_id=None,
            today=today,
        )
    with pytest.raises(ReasonRequired):
        enterprises.blacklist_enterprise(
            session,
            enterprise.id,
            reason="r",
            source=" ",
            listed_on=today,
            actor_id=None,
            today=today,
        )
    enterprises.blacklist_enterprise(
        session,
        enterprise.id,
        reason="失信被执行人",
        source="法院",
        listed_on=today,
        actor_id=None,
        today=today,
    )
    with pytest.raises(InvalidTransition):
        enterprises.blacklist_enterprise(
            session,
            enterprise.id,
            reason="again",
            source="法院",
            listed_on=today,
            actor_id=None,
            today=today,
        )
    with pytest.raises(EnterpriseBlacklisted):
        holds.place_hold(session, voucher, "o", 100, 1_000, "k", VOUCHER_NOW)
    enterprises.remove_from_blacklist(
        session, enterprise.id, reason="已履行", actor_id=None, today=today
    )
    assert holds.place_hold(session, voucher, "o", 100, 1_000, "k", VOUCHER_NOW).amount_fen == 100
    events = session.scalars(sa.select(BlacklistEvent).order_by(BlacklistEvent.id)).all()
    assert [(e.action, e.source) for e in events] == [
        (BlacklistAction.ADDED, "法院"),
        (BlacklistAction.REMOVED, None),
    ]
    assert enterprise.blacklist_reason is None


def test_profile_update_uses_optimistic_concurrency(session, create_enterprise):
    enterprise = create_enterprise()
    data = enterprises.ProfileInput("李四", "13900001111", "LI@Example.CN", "  ")
    enterprises.update_profile(session, enterprise.id, data, expected_version=1, actor_id=None)
    assert (enterprise.contact_email, enterprise.industry, enterprise.version) == (
        "li@example.cn",
        None,
        2,
    )
    with pytest.raises(PreconditionFailed):
        enterprises.update_profile(session, enterprise.id, data, expected_version=1, actor_id=None)
    with pytest.raises(ValidationFailed):
        enterprises.update_profile(
            session,
            enterprise.id,
            enterprises.ProfileInput("", "1", "x", None),
            expected_version=2,
            actor_id=None,
        )


def test_wallet_counts_the_current_year_across_programmes(
    session, create_enterprise, funded_programme, issue_voucher, create_provider
):
    enterprise = create_enterprise()
    a = issue_voucher(enterprise, funded_programme(), amount_fen=1_000_000)
    b = issue_voucher(
        enterprise,
        funded_programme(
            kind=ProgrammeKind.SERVICE, cap_scope=CapScope.PROGRAMME, annual_cap_fen=800_000
        ),
        amount_fen=800_000,
    )
    hold = holds.place_hold(session, a, "o1", 300_000, 600_000, "k1", VOUCHER_NOW)
    holds.capture_hold(session, hold, "c1", VOUCHER_NOW, provider_id=create_provider().id)
    holds.place_hold(session, a, "o2", 100_000, 600_000, "k2", VOUCHER_NOW)
    holds.place_hold(session, b, "o3", 50_000, 600_000, "k3", VOUCHER_NOW)
    found = wallet_of(session, enterprise.id, VOUCHER_NOW)
    assert found.year == VOUCHER_YEAR
    shared = found.shared
    assert (shared.cap_fen, shared.used_fen, shared.held_fen, shared.remaining_fen) == (
        3_000_000,
        300_000,
        100_000,
        2_600_000,
    )
    ((programme, own),) = found.own_caps
    assert (programme.id, own.cap_fen, own.held_fen, own.remaining_fen) == (
        b.programme_id,
        800_000,
        50_000,
        750_000,
    )
    assert {v.id for v in found.vouchers} == {a.id, b.id}
    assert found.balance_fen == 600_000 + 750_000
    assert (
        ledger.balance_of(session, ledger.voucher_accounts(session, a.programme_id, a.id).held)
        == 100_000
    )
