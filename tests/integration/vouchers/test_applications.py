"""Applications: eligibility, bad input (specific codes, nothing written), review transitions
with their history, approval committing budget within the cap."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from marketplace.enums import Role, SizeClass
from marketplace.errors import NotFound, ReasonRequired, ValidationFailed
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers import applications, ledger, rules
from vouchers.applications import ApplicationInput
from vouchers.enums import ApplicationStatus, ProgrammeKind, VerificationStatus
from vouchers.errors import (
    AmountAboveRequest,
    AmountInvalid,
    BudgetExceeded,
    CapExceeded,
    DuplicateApplication,
    EnterpriseBlacklisted,
    EnterpriseUnverified,
    InvalidTransition,
    NotEligible,
    ProgrammeClosed,
)
from vouchers.ledger_models import LedgerEntry, LedgerTransaction
from vouchers.models import Application, ApplicationEvent, Voucher
from vouchers.verify import verify_ledger

PLAN = "购买检验检测服务，完成新产品认证。"


def _written(session) -> tuple[int, ...]:
    return tuple(
        session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (Application, ApplicationEvent, Voucher, LedgerTransaction, LedgerEntry)
    )


def _apply(
    session, enterprise, programme, amount=1_000_000, categories=("testing",), now=VOUCHER_NOW
):
    return applications.apply(
        session,
        enterprise.id,
        programme.id,
        ApplicationInput(amount, list(categories), PLAN),
        actor_id=None,
        now=now,
    )


@pytest.mark.parametrize("amount", [0, -100, 1.5, 100.0, "1000", True, None, 10**13])
def test_bad_amounts(session, create_enterprise, funded_programme, amount):
    enterprise, programme = create_enterprise(), funded_programme()
    before = _written(session)
    with pytest.raises(AmountInvalid):
        _apply(session, enterprise, programme, amount=amount)
    assert _written(session) == before


@pytest.mark.parametrize(
    ("enterprise_overrides", "programme_overrides", "categories", "error"),
    [
        ({"blacklisted": True, "blacklist_reason": "失信"}, {}, ["testing"], EnterpriseBlacklisted),
        (
            {"verification_status": VerificationStatus.PENDING},
            {},
            ["testing"],
            EnterpriseUnverified,
        ),
        (
            {"verification_status": VerificationStatus.REJECTED},
            {},
            ["testing"],
            EnterpriseUnverified,
        ),
        ({"division": "530402"}, {"region_prefix": "5301"}, ["testing"], NotEligible),
        (
            {"size_class": SizeClass.MEDIUM},
            {"eligible_size_classes": ["micro", "small"]},
            ["testing"],
            NotEligible,
        ),
        ({}, {"eligible_categories": ["ip"]}, ["testing"], NotEligible),
        ({}, {"applications_open_on": date(VOUCHER_YEAR, 7, 1)}, ["testing"], ProgrammeClosed),
        ({}, {"applications_close_on": date(VOUCHER_YEAR, 6, 14)}, ["testing"], ProgrammeClosed),
    ],
)
def test_refusals_have_specific_codes_and_write_nothing(
    session,
    create_enterprise,
    funded_programme,
    enterprise_overrides,
    programme_overrides,
    categories,
    error,
):
    enterprise = create_enterprise(**enterprise_overrides)
    programme = funded_programme(**programme_overrides)
    before = _written(session)
    with pytest.raises(error) as info:
        _apply(session, enterprise, programme, categories=categories)
    assert info.value.code == error.code
    assert _written(session) == before


def test_invalid_plan_or_categories(session, create_enterprise, funded_programme):
    enterprise, programme = create_enterprise(), funded_programme()
    with pytest.raises(ValidationFailed) as info:
        applications.apply(
            session,
            enterprise.id,
            programme.id,
            ApplicationInput(100, ["nonsense"], "短"),
            actor_id=None,
            now=VOUCHER_NOW,
        )
    assert set(info.value.errors) == {"plan", "planned_categories"}


def test_above_cap_and_above_budget(session, create_enterprise, funded_programme):
    enterprise = create_enterprise()
    with pytest.raises(CapExceeded):
        _apply(session, enterprise, funded_programme(), amount=3_000_001)
    small = funded_programme(kind=ProgrammeKind.SERVICE, total_budget_fen=100_000)
    with pytest.raises(BudgetExceeded):
        _apply(session, enterprise, small, amount=100_001)
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_one_live_application_per_programme(session, create_enterprise, funded_programme):
    enterprise, programme = create_enterprise(), funded_programme()
    first = _apply(session, enterprise, programme)
    with pytest.raises(DuplicateApplication):
        _apply(session, enterprise, programme)
    applications.reject(session, first.id, reason="材料不全", actor_id=None, now=VOUCHER_NOW)
    again = _apply(session, enterprise, programme)  # a rejected one does not block
    assert again.status is ApplicationStatus.SUBMITTED


def test_full_review_history(session, create_enterprise, funded_programme, create_user):
    reviewer = create_user(Role.REVIEWER)
    enterprise, programme = create_enterprise(), funded_programme()
    application = _apply(session, enterprise, programme, amount=2_000_000)
    applications.request_clarification(
        session, application.id, question="预算明细？", actor_id=reviewer.id, now=VOUCHER_NOW
    )
    with pytest.raises(InvalidTransition):
        applications.approve(session, application.id, actor_id=reviewer.id, now=VOUCHER_NOW)
    with pytest.raises(NotFound):
        applications.respond_to_clarification(
            session,
            application.id,
            enterprise_id=create_enterprise().id,
            response="x",
            actor_id=None,
            now=VOUCHER_NOW,
        )
    applications.respond_to_clarification(
        session,
        application.id,
        enterprise_id=enterprise.id,
        response="见附件",
        actor_id=None,
        now=VOUCHER_NOW,
    )
    voucher = applications.approve(
        session,
        application.id,
        amount_fen=1_500_000,
        note="调减",
        actor_id=reviewer.id,
        now=VOUCHER_NOW,
    )
    assert (voucher.face_value_fen, voucher.balance_fen) == (1_500_000, 1_500_000)
    assert (voucher.use_by, voucher.claim_deadline) == (programme.use_by, programme.claim_deadline)
    assert voucher.valid_from == date(VOUCHER_YEAR, 6, 15)
    history = [
        (e.action.value, e.from_status.value if e.from_status else None, e.to_status.value, e.note)
        for e in application.events
    ]
    assert history == [
        ("submit", None, "submitted", None),
        ("request_clarification", "submitted", "clarification_requested", "预算明细？"),
        ("clarify", "clarification_requested", "submitted", "见附件"),
        ("approve", "submitted", "approved", "调减"),
    ]
    assert application.events[-1].actor_id == reviewer.id
    accounts = ledger.programme_accounts(session, programme.id)
    assert ledger.balance_of(session, accounts.available) == programme.total_budget_fen - 1_500_000
    assert ledger.balance_of(session, accounts.committed) == 1_500_000
    assert verify_ledger(session).ok


def test_rejection_needs_a_reason(session, submit_application):
    application = submit_application()
    for reason in ("", "   "):
        with pytest.raises(ReasonRequired):
            applications.reject(session, application.id, reason=reason, actor_id=None)
    assert application.status is ApplicationStatus.SUBMITTED


def test_approval_refusals_change_nothing(
    session, create_enterprise, funded_programme, submit_application
):
    application = submit_application(requested_fen=1_000_000)
    before = _written(session)
    with pytest.raises(AmountAboveRequest):
        applications.approve(
            session, application.id, amount_fen=1_000_001, actor_id=None, now=VOUCHER_NOW
        )
    with pytest.raises(AmountInvalid):
        applications.approve(session, application.id, amount_fen=0, actor_id=None, now=VOUCHER_NOW)
    late = datetime(VOUCHER_YEAR + 1, 1, 5, tzinfo=UTC)
    with pytest.raises(ProgrammeClosed):
        applications.approve(session, application.id, actor_id=None, now=late)
    application.enterprise.blacklisted = True
    application.enterprise.blacklist_reason = "失信"
    session.flush()
    with pytest.raises(EnterpriseBlacklisted):
        applications.approve(session, application.id, actor_id=None, now=VOUCHER_NOW)
    assert _written(session) == before
    assert application.status is ApplicationStatus.SUBMITTED


def test_approval_never_commits_more_than_the_budget(
    session, create_enterprise, funded_programme, submit_application
):
    programme = funded_programme(total_budget_fen=1_500_000)
    first = submit_application(programme=programme, requested_fen=1_000_000)
    second = submit_application(programme=programme, requested_fen=1_000_000)
    applications.approve(session, first.id, actor_id=None, now=VOUCHER_NOW)
    before = _written(session)
    with pytest.raises(BudgetExceeded):
        applications.approve(session, second.id, actor_id=None, now=VOUCHER_NOW)
    assert _written(session) == before
    assert second.status is ApplicationStatus.SUBMITTED
    voucher = applications.approve(
        session, second.id, amount_fen=500_000, actor_id=None, now=VOUCHER_NOW
    )
    assert voucher.face_value_fen == 500_000
    available = ledger.programme_accounts(session, programme.id).available
    assert ledger.balance_of(session, available) == 0
    assert verify_ledger(session).ok


def test_approval_respects_the_annual_cap(
    session, create_enterprise, funded_programme, submit_application
):
    enterprise = create_enterprise()
    innovation = funded_programme()
    service = funded_programme(kind=ProgrammeKind.SERVICE)
    applications.approve(
        session,
        submit_application(enterprise, innovation, requested_fen=2_500_000).id,
        actor_id=None,
        now=VOUCHER_NOW,
    )
    second = submit_application(enterprise, service, requested_fen=1_000_000)
    with pytest.raises(CapExceeded) as info:
        applications.approve(session, second.id, actor_id=None, now=VOUCHER_NOW)
    assert info.value.extra["headroom_fen"] == 500_000
    voucher = applications.approve(
        session, second.id, amount_fen=500_000, actor_id=None, now=VOUCHER_NOW
    )
    assert voucher.face_value_fen == 500_000


def test_serials_are_unique_and_checked(session, issue_voucher, funded_programme):
    programme = funded_programme()
    serials = {issue_voucher(programme=programme, amount_fen=1_000).serial for _ in range(5)}
    assert len(serials) == 5
    assert all(rules.serial_is_valid(s) and s.startswith(f"CX{VOUCHER_YEAR}-") for s in serials)
