"""Voucher factories: funded programmes, applications, issued vouchers, holds.

Every factory goes through the real services (so the ledger is always consistent and
``verify_ledger`` passes) and takes an injected clock: ``VOUCHER_NOW`` falls inside the
``VOUCHER_YEAR`` programmes' windows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from marketplace.enums import ServiceCategory
from vouchers import applications, funders, holds, programmes
from vouchers.applications import ApplicationInput
from vouchers.enums import FunderLevel
from vouchers.funder_models import Funder
from vouchers.funders import FunderInput, ShareInput
from vouchers.models import Application, Enterprise, Hold, Programme, Voucher

VOUCHER_YEAR = 2026
#: Noon in Kunming on 15 June 2026.
VOUCHER_NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
_keys = itertools.count(1)


def next_key(prefix: str = "key") -> str:
    return f"{prefix}-{next(_keys)}"


@pytest.fixture
def voucher_now() -> datetime:
    return VOUCHER_NOW


@pytest.fixture
def funded_programme(
    session: Session, create_programme: Callable[..., Programme]
) -> Callable[..., Programme]:
    """A programme (default: this module's year, whole-year window) with its budget granted
    in the ledger."""

    def factory(**overrides: Any) -> Programme:
        year = overrides.setdefault("year", VOUCHER_YEAR)
        overrides.setdefault("applications_open_on", date(year, 1, 1))
        overrides.setdefault("applications_close_on", date(year, 12, 31))
        overrides.setdefault("use_by", date(year, 12, 31))
        overrides.setdefault("claim_deadline", date(year + 1, 3, 31))
        overrides.setdefault("total_budget_fen", 100_000_000)
        programme = create_programme(**overrides)
        programmes.ensure_funded(session, programme)
        session.flush()
        return programme

    return factory


@pytest.fixture
def submit_application(
    session: Session,
    create_enterprise: Callable[..., Enterprise],
    funded_programme: Callable[..., Programme],
) -> Callable[..., Application]:
    def factory(
        enterprise: Enterprise | None = None,
        programme: Programme | None = None,
        *,
        requested_fen: int = 1_000_000,
        categories: list[str] | None = None,
        now: datetime = VOUCHER_NOW,
    ) -> Application:
        enterprise = enterprise or create_enterprise()
        programme = programme or funded_programme()
        return applications.apply(
            session,
            enterprise.id,
            programme.id,
            ApplicationInput(
                requested_fen=requested_fen,
                planned_categories=categories or [ServiceCategory.TESTING.value],
                plan="检测新产品的性能指标，申请检验检测服务。",
            ),
            actor_id=None,
            now=now,
        )

    return factory


@pytest.fixture
def issue_voucher(
    session: Session, submit_application: Callable[..., Application]
) -> Callable[..., Voucher]:
    """Apply and approve: a real voucher with its ledger postings."""

    def factory(
        enterprise: Enterprise | None = None,
        programme: Programme | None = None,
        *,
        amount_fen: int = 1_000_000,
        now: datetime = VOUCHER_NOW,
    ) -> Voucher:
        application = submit_application(enterprise, programme, requested_fen=amount_fen, now=now)
        return applications.approve(session, application.id, actor_id=None, now=now)

    return factory


@pytest.fixture
def place_hold(session: Session) -> Callable[..., Hold]:
    def factory(
        voucher: Voucher,
        *,
        requested_fen: int = 100_000,
        price_fen: int = 200_000,
        key: str | None = None,
        order_ref: str | None = None,
        now: datetime = VOUCHER_NOW,
    ) -> Hold:
        return holds.place_hold(
            session,
            voucher,
            order_ref or next_key("order"),
            requested_fen,
            price_fen,
            key or next_key("hold"),
            now,
        )

    return factory


def make_treasury(session: Session, name: str, code: str) -> Funder:
    """A funder (a treasury) with an account to pay from."""
    return funders.create_funder(
        session,
        FunderInput(name, code, f"{name}国库存款户", "中国人民银行昆明中心支行", f"5300{code}01"),
        actor_id=None,
    )


def co_fund(
    session: Session, programme: Programme, budgets_fen: tuple[int, int, int]
) -> tuple[Funder, Funder, Funder]:
    """Make ``programme`` co-funded: the province pays 50 % and the SME's home prefecture 50 %
    ("use anywhere, pay at home"). The province, Kunming and Qujing fund it with
    ``budgets_fen``, in that order; returns the three treasuries in the same order."""
    made = (
        make_treasury(session, "云南省财政厅", "530000"),
        make_treasury(session, "昆明市财政局", "530100"),
        make_treasury(session, "曲靖市财政局", "530300"),
    )
    funders.set_shares(
        session,
        programme.id,
        [
            ShareInput(5_000, funder_id=made[0].id),
            ShareInput(5_000, home_level=FunderLevel.PREFECTURE),
        ],
        expected_version=programme.version,
        actor_id=None,
    )
    for funder, budget in zip(made, budgets_fen, strict=True):
        funders.set_budget(session, programme.id, funder.id, budget, actor_id=None)
    return made
