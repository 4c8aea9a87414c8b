"""Utilisation for the programme office: per instrument and per provider, the hours offered,
booked and used in a month (Beijing calendar), and the share of the used hours that went to
SMEs paying with a voucher — the policy's "open to society" in figures.

* **offered**: the calendar's opening hours on its open weekdays, less closure days;
* **booked**: hours of bookings the provider confirmed (confirmed, used, no-show), counted in
  the month their slot starts;
* **used**: hours recorded as used (a per-sample booking counts its slot's hours once used);
* **voucher share**: used hours of bookings whose order is paid partly by a voucher, over the
  used hours (basis points; none when nothing was used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.errors import ValidationFailed
from marketplace.instruments import rules
from marketplace.instruments.enums import BookingStatus, RateBasis
from marketplace.instruments.models import InstrumentBooking, InstrumentCalendar
from marketplace.orders.models import Order
from providers.models import InstrumentListing, Provider, Service

BOOKED = (BookingStatus.CONFIRMED, BookingStatus.USED, BookingStatus.NO_SHOW)


@dataclass
class Figures:
    offered_hours: int = 0
    booked_hours: int = 0
    used_hours: int = 0
    voucher_used_hours: int = 0

    @property
    def voucher_share_bps(self) -> int | None:
        if not self.used_hours:
            return None
        return self.voucher_used_hours * rules.BPS // self.used_hours

    @property
    def used_share_bps(self) -> int | None:
        """Used hours over offered hours."""
        if not self.offered_hours:
            return None
        return self.used_hours * rules.BPS // self.offered_hours

    def add(self, other: Figures) -> None:
        self.offered_hours += other.offered_hours
        self.booked_hours += other.booked_hours
        self.used_hours += other.used_hours
        self.voucher_used_hours += other.voucher_used_hours


@dataclass
class InstrumentRow:
    service_id: int
    title: str
    instrument_name: str
    provider_id: int
    provider_name: str
    figures: Figures = field(default_factory=Figures)


@dataclass
class ProviderRow:
    provider_id: int
    provider_name: str
    figures: Figures = field(default_factory=Figures)


@dataclass
class Report:
    month: date
    instruments: list[InstrumentRow]
    providers: list[ProviderRow]
    total: Figures


def parse_month(text: str | None, today: date, *, strict: bool = False) -> date:
    """The first day of ``YYYY-MM`` (this month when empty). Pages fall back to this month
    on nonsense; the API (``strict``) raises ValidationFailed."""
    if text:
        try:
            year, month = (int(part) for part in text.split("-"))
            if len(text) == 7 and 2000 <= year <= 2100:
                return date(year, month, 1)
        except ValueError:
            pass
        if strict:
            raise ValidationFailed("月份格式为 YYYY-MM / the month is YYYY-MM", {"month": [text]})
    return today.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def monthly(session: Session, month: date) -> Report:
    """The month's figures for every instrument with a calendar, busiest first."""
    first, following = month.replace(day=1), _next_month(month)
    last = date.fromordinal(following.toordinal() - 1)
    calendars = session.execute(
        sa.select(InstrumentCalendar, Service, Provider)
        .join(InstrumentListing, InstrumentListing.id == InstrumentCalendar.listing_id)
        .join(Service, Service.id == InstrumentListing.service_id)
        .join(Provider, Provider.id == Service.provider_id)
        .order_by(Provider.id, Service.id)
    ).all()
    rows: dict[int, InstrumentRow] = {}
    for calendar, service, owner in calendars:
        row = InstrumentRow(
            service.id, service.title, calendar.listing.instrument_name, owner.id, owner.name
        )
        closures = [rules.Closure(c.starts_on, c.ends_on, c.reason) for c in calendar.closures]
        row.figures.offered_hours = rules.opening_hours_in(
            rules.Calendar(
                calendar.open_weekdays,
                calendar.opens_hour,
                calendar.closes_hour,
                calendar.min_hours,
                calendar.max_hours,
                calendar.lead_time_hours,
            ),
            closures,
            first,
            last,
        )
        rows[calendar.id] = row
    bookings = session.execute(
        sa.select(InstrumentBooking, Order.voucher_id)
        .join(Order, Order.id == InstrumentBooking.order_id)
        .where(
            InstrumentBooking.status.in_(BOOKED),
            InstrumentBooking.starts_at >= rules.at_beijing(first, 0),
            InstrumentBooking.starts_at < rules.at_beijing(following, 0),
        )
    ).all()
    for booking, voucher_id in bookings:
        figures = rows[booking.calendar_id].figures
        figures.booked_hours += booking.hours
        if booking.status is BookingStatus.USED:
            used = (
                booking.used_quantity or 0
                if booking.calendar.rate_basis is RateBasis.HOUR
                else booking.hours
            )
            figures.used_hours += used
            if voucher_id is not None:
                figures.voucher_used_hours += used
    providers: dict[int, ProviderRow] = {}
    total = Figures()
    for row in rows.values():
        per_provider = providers.setdefault(
            row.provider_id, ProviderRow(row.provider_id, row.provider_name)
        )
        per_provider.figures.add(row.figures)
        total.add(row.figures)

    def busiest(item: InstrumentRow | ProviderRow) -> tuple[int, int]:
        return (-item.figures.used_hours, item.provider_id)

    return Report(
        first,
        sorted(rows.values(), key=busiest),
        sorted(providers.values(), key=busiest),
        total,
    )
