"""Instrument booking tables: an instrument's calendar (opening hours, booking lengths, lead
time, the provider's cancellation and no-show terms), its closures, and the bookings.

Times are stored in UTC like every other time of the platform; the calendar's hours are
Beijing wall-clock hours (:mod:`marketplace.clock`). A booking covers whole hours
``[starts_at, ends_at)``.

No two *holding* bookings (requested, confirmed, used, no-show) of one calendar overlap. On
PostgreSQL the exclusion constraint ``ex_instrument_bookings_no_overlap`` (``btree_gist``,
created by migration 0012, outside the models: Alembic cannot compare exclusion constraints)
makes it impossible whatever the code does; on SQLite the booking service checks under the
write lock every transaction takes first (``BEGIN IMMEDIATE``, :mod:`marketplace.db`).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.auth.models import User
from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, utcnow
from marketplace.instruments.enums import BookingStatus, RateBasis
from marketplace.orders.models import Order
from providers.models import InstrumentListing, Provider
from vouchers.models import Enterprise

#: Statuses whose booking keeps its hours from anyone else.
HOLDING_STATUSES = ("requested", "confirmed", "used", "no_show")
NO_OVERLAP_CONSTRAINT = "ex_instrument_bookings_no_overlap"


def _actor_fk() -> Mapped[int | None]:
    return mapped_column(BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"))


class InstrumentCalendar(IdMixin, TimestampMixin, Base):
    """How an instrument listing can be booked. One per listing; without one (or with
    ``is_bookable`` off) the instrument is listed but not bookable online."""

    __tablename__ = "instrument_calendars"

    listing_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("instrument_listings.id", ondelete="CASCADE"), unique=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    rate_basis: Mapped[RateBasis] = enum_column(RateBasis, "rate_basis", default=RateBasis.HOUR)
    #: ISO weekdays the instrument is open, as digits: "12345" Monday to Friday.
    open_weekdays: Mapped[str] = mapped_column(sa.String(7), default="12345")
    #: Beijing wall-clock hours: bookable from ``opens_hour``:00 to ``closes_hour``:00.
    opens_hour: Mapped[int] = mapped_column(sa.Integer, default=9)
    closes_hour: Mapped[int] = mapped_column(sa.Integer, default=17)
    min_hours: Mapped[int] = mapped_column(sa.Integer, default=1)
    max_hours: Mapped[int] = mapped_column(sa.Integer, default=8)
    #: A booking must start at least this many hours after it is requested.
    lead_time_hours: Mapped[int] = mapped_column(sa.Integer, default=24)
    #: The SME may cancel a confirmed booking free of charge until this many hours before it.
    free_cancel_hours: Mapped[int] = mapped_column(sa.Integer, default=24)
    #: Share of the booked price (basis points) charged for a no-show, from the co-payment.
    no_show_fee_bps: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: The provider's terms in its own words (shown on the booking pages).
    terms_note: Mapped[str | None] = mapped_column(sa.Text)
    is_bookable: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    listing: Mapped[InstrumentListing] = relationship(lazy="joined")
    provider: Mapped[Provider] = relationship()
    closures: Mapped[list[InstrumentClosure]] = relationship(
        back_populates="calendar", order_by="InstrumentClosure.starts_on"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "opens_hour >= 0 AND opens_hour < closes_hour AND closes_hour <= 24",
            name="opening_hours_order",
        ),
        sa.CheckConstraint(
            "min_hours >= 1 AND max_hours >= min_hours AND max_hours <= 24",
            name="booking_length_range",
        ),
        sa.CheckConstraint(
            "lead_time_hours >= 0 AND free_cancel_hours >= 0", name="hours_not_negative"
        ),
        sa.CheckConstraint(
            "no_show_fee_bps >= 0 AND no_show_fee_bps <= 10000", name="no_show_fee_range"
        ),
        sa.CheckConstraint("length(open_weekdays) <= 7", name="open_weekdays_length"),
    )

    def is_open_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.open_weekdays


class InstrumentClosure(IdMixin, Base):
    """Whole Beijing days the instrument cannot be booked (maintenance, holidays)."""

    __tablename__ = "instrument_closures"

    calendar_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("instrument_calendars.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = _actor_fk()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    calendar: Mapped[InstrumentCalendar] = relationship(back_populates="closures")

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="closure_order"),)

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


class InstrumentBooking(IdMixin, TimestampMixin, Base):
    """An SME's booking of an instrument for ``[starts_at, ends_at)``, and the order it is
    paid through (created with the request, priced when the provider confirms)."""

    __tablename__ = "instrument_bookings"

    calendar_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("instrument_calendars.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[BookingStatus] = enum_column(
        BookingStatus, "status", default=BookingStatus.REQUESTED
    )
    #: Hours (or samples, for a per-sample rate) booked and charged at the listed rate.
    quantity: Mapped[int] = mapped_column(sa.Integer)
    #: Hours (or samples) actually used, recorded by the provider afterwards; never more.
    used_quantity: Mapped[int | None] = mapped_column(sa.Integer)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    requested_by_id: Mapped[int | None] = _actor_fk()
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    calendar: Mapped[InstrumentCalendar] = relationship(lazy="joined")
    enterprise: Mapped[Enterprise] = relationship()
    order: Mapped[Order] = relationship()
    requested_by: Mapped[User | None] = relationship()
    events: Mapped[list[BookingEvent]] = relationship(
        back_populates="booking", order_by="BookingEvent.id"
    )

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="time_order"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "used_quantity IS NULL OR (used_quantity >= 0 AND used_quantity <= quantity)",
            name="used_not_above_booked",
        ),
        sa.CheckConstraint("status != 'used' OR used_quantity IS NOT NULL", name="use_recorded"),
        sa.Index("ix_instrument_bookings_calendar_time", "calendar_id", "starts_at"),
    )

    @property
    def hours(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 3600)


class BookingEvent(IdMixin, Base):
    """One step of a booking's life (who, what, why, when); only inserted."""

    __tablename__ = "instrument_booking_events"

    booking_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("instrument_bookings.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(20))
    from_status: Mapped[BookingStatus | None] = enum_column(BookingStatus, "from_status")
    to_status: Mapped[BookingStatus] = enum_column(BookingStatus, "to_status")
    note: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = _actor_fk()
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    booking: Mapped[InstrumentBooking] = relationship(back_populates="events")
