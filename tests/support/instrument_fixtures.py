"""An instrument-sharing service of an admitted key laboratory with its booking calendar
(``make_instrument``), for the service, page and API tests of instrument booking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.auth.models import User
from marketplace.clock import CHINA_TZ
from marketplace.enums import ServiceCategory
from marketplace.instruments import services
from marketplace.instruments.models import InstrumentCalendar
from providers.models import Service
from tests.support.order_fixtures import OrderWorld
from tests.support.voucher_fixtures import VOUCHER_NOW

#: Monday 15 June 2026, 12:00 Beijing time.
NOW = VOUCHER_NOW
RATE_FEN = 30_000  # ¥300 an hour


@dataclass
class InstrumentWorld:
    orders: OrderWorld
    service: Service
    calendar: InstrumentCalendar
    seller: User

    def sme(self) -> User:
        return self.orders.sme(self.orders.create_enterprise())


def make_instrument(order_world: OrderWorld, **calendar: Any) -> InstrumentWorld:
    provider = order_world.create_provider()
    service = order_world.create_service(
        provider,
        title="场发射扫描电镜机时",
        category=ServiceCategory.INSTRUMENT_SHARING,
        description="重点实验室场发射扫描电子显微镜对外开放共享。",
        price_fen=RATE_FEN,
        unit="小时",
        instrument={
            "instrument_name": "场发射扫描电子显微镜",
            "model": "SU8010",
            "manufacturer": "Hitachi",
            "location": "昆明市五华区学府路 2 号 B 栋 101",
            "hourly_rate_fen": RATE_FEN,
        },
    )
    order_world.admit(provider, order_world.programme())
    seller = order_world.provider_user(provider)
    values: dict[str, Any] = {
        "open_weekdays": "12345",
        "opens_hour": 9,
        "closes_hour": 17,
        "min_hours": 1,
        "max_hours": 4,
        "lead_time_hours": 24,
        "free_cancel_hours": 24,
        "no_show_fee_bps": 5000,
    }
    values.update(calendar)
    cal = services.set_calendar(
        order_world.session, seller, service.id, services.CalendarInput(**values)
    )
    return InstrumentWorld(order_world, service, cal, seller)


def beijing(text: str) -> datetime:
    """A Beijing wall-clock time, e.g. ``beijing("2026-06-17 10:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)
