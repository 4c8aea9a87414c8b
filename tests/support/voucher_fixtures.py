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
from vouchers import applications, holds, programmes
from vouchers.applications import ApplicationInput
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
