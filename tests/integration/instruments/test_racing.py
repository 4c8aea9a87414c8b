"""Many SMEs race for one instrument's hours, each in its own thread, session and real
transaction: exactly one booking wins, on both databases. On PostgreSQL the losers collide
with the exclusion constraint (btree_gist) or see the winner; on SQLite the write lock taken
by BEGIN IMMEDIATE serialises them. The constraint itself is also tested directly: a second
overlapping row written past the service is refused by PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.auth.models import User
from marketplace.db import create_engine
from marketplace.errors import DomainError
from marketplace.instruments import services
from marketplace.instruments.enums import BookingStatus
from marketplace.instruments.models import InstrumentBooking
from marketplace.orders import services as order_services
from providers.catalogue import build_search_text
from providers.enums import PricingMode
from providers.models import InstrumentListing, Provider, Service
from tests.conftest import app_config
from tests.integration.orders.test_concurrency import _factories
from tests.support.instrument_fixtures import NOW, beijing, make_instrument
from tests.support.order_fixtures import OrderWorld

RACERS = 6


def _world(session: Session, app: Any) -> OrderWorld:
    """The order tests' plain factories, with a service factory that lists an instrument."""
    factories = _factories(session)

    def create_service(provider: Provider, **values: Any) -> Service:
        instrument = values.pop("instrument")
        provider.service_categories = [*provider.service_categories, values["category"].value]
        service = Service(
            provider_id=provider.id,
            provider=provider,
            pricing=PricingMode.FIXED,
            lead_time_days=7,
            is_active=True,
            **values,
        )
        service.instrument = InstrumentListing(**instrument)
        service.search_text = build_search_text(service, provider)
        session.add(service)
        session.flush()
        return service

    factories["create_service"] = create_service
    return OrderWorld(session, app, **factories)


def _race(app: Any, engine: Any, calls: list[Any]) -> list[str]:
    barrier = threading.Barrier(len(calls))
    outcomes = [""] * len(calls)

    def run(index: int) -> None:
        with app.app_context(), Session(engine) as session:
            barrier.wait()
            try:
                calls[index](session)
                session.commit()
                outcomes[index] = "ok"
            except DomainError as exc:
                session.rollback()
                outcomes[index] = exc.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_many_smes_race_for_one_slot_exactly_one_wins(database, tmp_path: Path):
    url = database.fresh("instrument_race")
    app = create_app(app_config(url, tmp_path))
    engine = create_engine(url)
    try:
        with app.app_context(), Session(engine) as session:
            world = make_instrument(_world(session, app))
            smes = [world.sme().id for _ in range(RACERS)]
            service_id, calendar_id = world.service.id, world.calendar.id
            session.commit()

        def book(sme_id: int, start: str, hours: int) -> Any:
            def call(session: Session) -> None:
                user = session.get(User, sme_id)
                services.request_booking(
                    session, user, service_id, starts_at=beijing(start), hours=hours, now=NOW
                )

            return call

        # Overlapping, not identical: 10–12, 11–13, 09–11 … all contest 10:00–11:00 or 11:00.
        starts = ["2026-06-17 10:00", "2026-06-17 11:00", "2026-06-17 10:00"] * (RACERS // 3)
        outcomes = _race(app, engine, [book(s, t, 2) for s, t in zip(smes, starts, strict=True)])

        assert sorted(outcomes) == ["ok"] + ["slot_unavailable"] * (RACERS - 1), outcomes
        with Session(engine) as session:
            held = session.scalars(
                sa.select(InstrumentBooking).where(InstrumentBooking.calendar_id == calendar_id)
            ).all()
            assert [b.status for b in held] == [BookingStatus.REQUESTED]
    finally:
        engine.dispose()


def test_the_database_itself_refuses_an_overlap_on_postgresql(database, tmp_path: Path):
    """A row written past the service: PostgreSQL's exclusion constraint refuses it; SQLite,
    which has none, takes it — which is why the service checks under the write lock there."""
    url = database.fresh("instrument_exclusion")
    app = create_app(app_config(url, tmp_path))
    engine = create_engine(url)
    try:
        with app.app_context(), Session(engine) as session:
            world = make_instrument(_world(session, app))
            booking = services.request_booking(
                session,
                world.sme(),
                world.service.id,
                starts_at=beijing("2026-06-17 10:00"),
                hours=2,
                now=NOW,
            )
            other = order_services.request_service(
                session, world.sme(), world.service.id, note="", quantity=1, now=NOW
            )
            session.commit()
            twin = InstrumentBooking(
                calendar_id=booking.calendar_id,
                provider_id=booking.provider_id,
                enterprise_id=other.enterprise_id,
                order_id=other.id,
                starts_at=booking.starts_at + timedelta(hours=1),
                ends_at=booking.ends_at + timedelta(hours=1),
                status=BookingStatus.CONFIRMED,
                quantity=2,
                version=1,
            )
            session.add(twin)
            if database.backend == "postgresql":
                with pytest.raises(IntegrityError, match="ex_instrument_bookings_no_overlap"):
                    session.flush()
                session.rollback()
                # A cancelled booking holds nothing: the same row is accepted.
                session.add(
                    InstrumentBooking(
                        calendar_id=booking.calendar_id,
                        provider_id=booking.provider_id,
                        enterprise_id=other.enterprise_id,
                        order_id=other.id,
                        starts_at=booking.starts_at,
                        ends_at=booking.ends_at,
                        status=BookingStatus.CANCELLED,
                        quantity=2,
                        version=1,
                    )
                )
            session.flush()
            session.rollback()
    finally:
        engine.dispose()
