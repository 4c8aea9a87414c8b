"""Order steps under real concurrency: threads, each with its own connection, real commits.

On PostgreSQL the threads genuinely race on the order's row lock and the invoices' unique key;
on SQLite BEGIN IMMEDIATE serialises them. Either way exactly one of two conflicting steps
wins, the loser gets a named error, and the ledger verifies.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password
from marketplace.clock import local_date
from marketplace.db import create_engine
from marketplace.enums import InstitutionType, Role, ServiceCategory, SizeClass
from marketplace.errors import DomainError
from marketplace.orders import delivery
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Invoice, Order
from providers.catalogue import build_search_text
from providers.enums import PricingMode, ProviderStatus
from providers.models import Provider, Service
from tests.conftest import app_config
from tests.support.fixtures import unique_credit_code, unique_email
from tests.support.order_fixtures import OrderWorld, invoice_for, report
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import applications, programmes
from vouchers.applications import ApplicationInput
from vouchers.enums import FundingBody, HoldStatus, ProgrammeKind, VerificationStatus
from vouchers.models import Enterprise, Hold, Programme
from vouchers.verify import verify_ledger

_n = itertools.count(1)


def _factories(session: Session) -> dict[str, Callable[..., Any]]:
    """Plain versions of the test factories, for a session on a separate database."""

    def create_enterprise(**overrides: Any) -> Enterprise:
        code = unique_credit_code()
        enterprise = Enterprise(
            name=f"并发企业{next(_n)}",
            credit_code=code,
            region_code=code[2:8],
            size_class=SizeClass.SMALL,
            contact_name="联系人",
            contact_phone="13800000000",
            contact_email=unique_email("e"),
            verification_status=VerificationStatus.VERIFIED,
            **overrides,
        )
        session.add(enterprise)
        session.flush()
        return enterprise

    def create_provider(**overrides: Any) -> Provider:
        code = unique_credit_code()
        provider = Provider(
            name=f"并发检测中心{next(_n)}",
            credit_code=code,
            region_code=code[2:8],
            institution_type=InstitutionType.TESTING_CENTRE,
            status=ProviderStatus.ADMITTED,
            contact_name="联系人",
            contact_phone="0871-65550000",
            contact_email=unique_email("p"),
            service_categories=[ServiceCategory.TESTING.value],
            **overrides,
        )
        session.add(provider)
        session.flush()
        return provider

    def create_user(role: Role = Role.ENTERPRISE, **overrides: Any) -> User:
        user = User(
            email=unique_email(role.value),
            password_hash=hash_password("correct-horse-battery"),
            display_name=f"{role.zh}{next(_n)}",
            role=role,
            **overrides,
        )
        session.add(user)
        session.flush()
        return user

    def create_service(provider: Provider, **overrides: Any) -> Service:
        service = Service(
            provider_id=provider.id,
            provider=provider,
            title=f"并发检测服务{next(_n)}",
            category=ServiceCategory.TESTING,
            description="金属材料检测",
            pricing=PricingMode.FIXED,
            price_fen=80_000,
            unit="样品",
            lead_time_days=7,
            is_active=True,
            **overrides,
        )
        service.search_text = build_search_text(service, provider)
        session.add(service)
        session.flush()
        return service

    def funded_programme(*, year: int) -> Programme:
        programme = Programme(
            kind=ProgrammeKind.INNOVATION,
            year=year,
            name=f"{year} 并发",
            funding_body=FundingBody.PROVINCIAL,
            total_budget_fen=100_000_000,
            eligible_categories=[c.value for c in ServiceCategory],
            eligible_size_classes=[s.value for s in SizeClass],
            region_prefix="53",
            applications_open_on=local_date(VOUCHER_NOW).replace(month=1, day=1),
            applications_close_on=local_date(VOUCHER_NOW).replace(month=12, day=31),
            use_by=local_date(VOUCHER_NOW).replace(month=12, day=31),
            claim_deadline=local_date(VOUCHER_NOW).replace(year=year + 1, month=3, day=31),
        )
        session.add(programme)
        session.flush()
        programmes.ensure_funded(session, programme)
        return programme

    def issue_voucher(enterprise: Enterprise, programme: Programme, **kwargs: Any) -> Any:
        application = applications.apply(
            session,
            enterprise.id,
            programme.id,
            ApplicationInput(
                kwargs["amount_fen"], [ServiceCategory.TESTING.value], "并发测试用检测计划。"
            ),
            actor_id=None,
            now=kwargs["now"],
        )
        return applications.approve(session, application.id, actor_id=None, now=kwargs["now"])

    return {
        "create_user": create_user,
        "create_enterprise": create_enterprise,
        "create_provider": create_provider,
        "create_service": create_service,
        "funded_programme": funded_programme,
        "issue_voucher": issue_voucher,
    }


def _race(app: Any, engine: Any, steps: list[Callable[[Session], Any]]) -> list[str]:
    """Run ``steps`` at the same moment, each in its own thread, session and transaction."""
    barrier = threading.Barrier(len(steps))
    outcomes: list[str] = [""] * len(steps)

    def run(index: int, step: Callable[[Session], Any]) -> None:
        with app.app_context(), Session(engine) as session:
            barrier.wait()
            try:
                step(session)
                session.commit()
                outcomes[index] = "ok"
            except DomainError as exc:
                session.rollback()
                outcomes[index] = exc.code

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_conflicting_steps_one_winner(database, tmp_path: Path):
    url = database.fresh("orders_race")
    app = create_app(app_config(url, tmp_path))
    engine = create_engine(url)
    try:
        with app.app_context(), Session(engine) as session:
            world = OrderWorld(session, app, **_factories(session))
            contested = world.create(S.DELIVERED)
            first, second = world.create(S.PAID), world.create(S.PAID)
            ids = {
                "contested": contested.id,
                "first": first.id,
                "second": second.id,
                "sme": world.sme(contested).id,
                "sellers": (world.provider_user(first).id, world.provider_user(second).id),
            }
            shared = invoice_for(first)
            invoices = [shared, invoice_for(second, code=shared.code, number=shared.number)]
            session.commit()
            storage = world.storage
        when = VOUCHER_NOW + timedelta(days=2)

        def confirm(session: Session) -> None:
            delivery.confirm(session, ids["contested"], session.get(User, ids["sme"]), now=when)

        # The same confirmation sent twice at once (two tabs, a double click).
        outcomes = _race(app, engine, [confirm, confirm])
        assert sorted(outcomes) == sorted(["ok", "illegal_transition"]), outcomes

        def deliver(key: str, seller: int, invoice: Any) -> Callable[[Session], None]:
            def step(session: Session) -> None:
                delivery.deliver(
                    session,
                    storage,
                    ids[key],
                    session.get(User, seller),
                    invoice=invoice,
                    report=report(),
                    now=VOUCHER_NOW,
                )

            return step

        outcomes = _race(
            app,
            engine,
            [
                deliver("first", ids["sellers"][0], invoices[0]),
                deliver("second", ids["sellers"][1], invoices[1]),
            ],
        )
        assert sorted(outcomes) == ["invoice_reused", "ok"], outcomes

        with Session(engine) as session:
            order = session.get(Order, ids["contested"])
            hold = session.get(Hold, order.hold_id)
            assert (order.status, hold.status) == (S.CONFIRMED, HoldStatus.CAPTURED)
            assert [e.action.value for e in order.events].count("confirm") == 1
            assert [e.action.value for e in order.events].count("deliver") == 1
            assert len(order.events) == 5
            assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 2
            report_ = verify_ledger(session)
            assert report_.ok, [(c.name, c.breaches) for c in report_.checks if c.breaches]
    finally:
        engine.dispose()
        app.extensions["db"].engine.dispose()
