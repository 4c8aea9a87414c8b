"""Races on real connections (threads, real commits): concurrent ratings keep the counters
and the credit score right, and one order is rated once however many requests race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.db import create_engine
from marketplace.enums import InstitutionType, ServiceCategory, SizeClass
from providers.catalogue import build_search_text
from providers.credit import compute_credit_score, credit_inputs, rate_service
from providers.enums import PricingMode, ProviderStatus
from providers.errors import DuplicateRating
from providers.models import Provider, Rating, Service
from tests.support.fixtures import unique_credit_code
from vouchers.enums import VerificationStatus
from vouchers.models import Enterprise

THREADS = 8


def _race(engine: sa.Engine, work: Callable[[Session, int], Any]) -> list[Any]:
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def run(n: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                results[n] = work(session, n)
                session.commit()
            except Exception as exc:  # collected and asserted on below
                session.rollback()
                results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _setup(engine: sa.Engine) -> tuple[int, list[int]]:
    with Session(engine) as session:
        provider = Provider(
            name="并发测试检测中心",
            credit_code=unique_credit_code(),
            region_code="530102",
            institution_type=InstitutionType.TESTING_CENTRE,
            status=ProviderStatus.ADMITTED,
            contact_name="联系人",
            contact_phone="0871",
            contact_email="race@example.cn",
        )
        service = Service(
            provider=provider,
            title="材料检测服务",
            category=ServiceCategory.TESTING,
            description="并发评价测试。",
            pricing=PricingMode.FIXED,
            price_fen=10_000,
            unit="样品",
            lead_time_days=3,
        )
        service.search_text = build_search_text(service, provider)
        enterprises = []
        for n in range(THREADS):
            code = unique_credit_code()
            enterprises.append(
                Enterprise(
                    name=f"并发企业{n}",
                    credit_code=code,
                    region_code=code[2:8],
                    size_class=SizeClass.SMALL,
                    contact_name="联系人",
                    contact_phone="138",
                    contact_email=f"e{n}@example.cn",
                    verification_status=VerificationStatus.VERIFIED,
                )
            )
        session.add_all([provider, service, *enterprises])
        session.commit()
        return service.id, [e.id for e in enterprises]


def test_concurrent_ratings_are_all_counted(database):
    engine = create_engine(database.fresh("ratings_race"))
    try:
        service_id, enterprise_ids = _setup(engine)

        def rate(session: Session, n: int) -> Any:
            service = session.get(Service, service_id)
            enterprise = session.get(Enterprise, enterprise_ids[n])
            return rate_service(session, enterprise, service, f"ORD-{n}", 1 + n % 5, None)

        results = _race(engine, rate)
        assert all(isinstance(r, Rating) for r in results), results
        with Session(engine) as session:
            service = session.get(Service, service_id)
            expected_total = sum(1 + n % 5 for n in range(THREADS))
            assert (service.rating_count, service.rating_total) == (THREADS, expected_total)
            assert service.rating_avg_x100 == expected_total * 100 // THREADS
            provider = session.get(Provider, service.provider_id)
            expected = compute_credit_score(credit_inputs(session, provider.id)).score
            assert provider.credit_score == expected
    finally:
        engine.dispose()


def test_one_order_is_rated_once_under_a_race(database):
    engine = create_engine(database.fresh("rating_once"))
    try:
        service_id, enterprise_ids = _setup(engine)

        def rate(session: Session, n: int) -> Any:
            service = session.get(Service, service_id)
            enterprise = session.get(Enterprise, enterprise_ids[0])
            return rate_service(session, enterprise, service, "ORD-SAME", 5, f"第{n}次")

        results = _race(engine, rate)
        assert sum(isinstance(r, Rating) for r in results) == 1
        assert all(isinstance(r, DuplicateRating) for r in results if not isinstance(r, Rating))
        with Session(engine) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1
            assert session.get(Service, service_id).rating_count == 1
    finally:
        engine.dispose()
