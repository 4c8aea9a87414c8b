"""The week calendar's availability on both databases: opening hours, closures, the lead
time and existing bookings; and the requests the calendar refuses, each with its reason."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from marketplace.errors import ValidationFailed
from marketplace.instruments import services
from marketplace.instruments.errors import InstrumentNotFound, SlotUnavailable
from marketplace.instruments.rules import Cell
from tests.support.instrument_fixtures import NOW, beijing

MONDAY = date(2026, 6, 15)


def _cells(days, day_index):
    return {h.starts_at.hour: h.cell for h in days[day_index].hours}


def test_week_shows_opening_hours_lead_time_closures_and_bookings(session, instrument):
    w = instrument
    services.add_closure(
        session,
        w.seller,
        w.service.id,
        starts_on=date(2026, 6, 18),
        ends_on=date(2026, 6, 18),
        reason="年度维护保养",
    )
    services.request_booking(
        session, w.sme(), w.service.id, starts_at=beijing("2026-06-17 10:00"), hours=2, now=NOW
    )

    days = services.week(session, w.calendar, MONDAY, NOW)

    assert [d.day for d in days] == [MONDAY + timedelta(days=i) for i in range(7)]
    # Weekend: not open at all.
    assert (days[5].open, days[5].hours, days[6].open) == (False, (), False)
    # Monday 12:00 is now; with 24 hours' lead nothing on Monday or Tuesday before 12:00.
    assert set(_cells(days, 0).values()) == {Cell.TOO_SOON}
    assert _cells(days, 1) == {h: Cell.TOO_SOON if h < 12 else Cell.FREE for h in range(9, 17)}
    # Wednesday: the requested booking holds 10:00–12:00; opening hours 09–17 only.
    assert _cells(days, 2) == {h: Cell.BOOKED if h in (10, 11) else Cell.FREE for h in range(9, 17)}
    # Thursday: closed for maintenance, with the reason.
    assert set(_cells(days, 3).values()) == {Cell.CLOSED}
    assert days[3].closure == "年度维护保养"
    assert set(_cells(days, 4).values()) == {Cell.FREE}


@pytest.mark.parametrize(
    ("starts", "hours", "reason"),
    [
        ("2026-06-17 08:00", 1, "opening_hours"),  # before opening
        ("2026-06-17 16:00", 2, "opening_hours"),  # runs past closing
        ("2026-06-20 10:00", 1, "closed_day"),  # Saturday
        ("2026-06-18 10:00", 1, "closure"),  # maintenance day
        ("2026-06-16 11:00", 1, "lead_time"),  # 23 hours ahead, 24 needed
        ("2026-06-17 10:30", 1, "whole_hours"),
        ("2026-06-17 10:00", 5, "length"),  # max 4 hours
        ("2026-06-17 10:00", 0, "length"),
        ("2026-10-14 10:00", 1, "horizon"),  # more than 90 days ahead
        ("2026-06-17 11:00", 1, "taken"),  # overlaps the existing 10:00–12:00
    ],
)
def test_requests_the_calendar_refuses(session, instrument, starts, hours, reason):
    w = instrument
    services.add_closure(
        session,
        w.seller,
        w.service.id,
        starts_on=date(2026, 6, 18),
        ends_on=date(2026, 6, 18),
        reason="年度维护保养",
    )
    services.request_booking(
        session, w.sme(), w.service.id, starts_at=beijing("2026-06-17 10:00"), hours=2, now=NOW
    )
    with pytest.raises(SlotUnavailable) as refused:
        services.request_booking(
            session, w.sme(), w.service.id, starts_at=beijing(starts), hours=hours, now=NOW
        )
    assert refused.value.extra["reason"] == reason


def test_adjacent_hours_and_a_declined_booking_leave_the_hours_free(session, instrument):
    w = instrument
    first = services.request_booking(
        session, w.sme(), w.service.id, starts_at=beijing("2026-06-17 10:00"), hours=2, now=NOW
    )
    # Back to back: 12:00 starts where 10:00–12:00 ends.
    services.request_booking(
        session, w.sme(), w.service.id, starts_at=beijing("2026-06-17 12:00"), hours=1, now=NOW
    )
    services.decline(session, first.id, w.seller, reason="仪器临时故障", now=NOW)
    again = services.request_booking(
        session, w.sme(), w.service.id, starts_at=beijing("2026-06-17 10:00"), hours=2, now=NOW
    )
    assert again.starts_at == beijing("2026-06-17 10:00")
    cells = _cells(services.week(session, w.calendar, MONDAY, NOW), 2)
    assert [h for h, c in cells.items() if c is Cell.BOOKED] == [10, 11, 12]


def test_times_are_beijing_time_stored_in_utc(session, instrument):
    w = instrument
    booking = services.request_booking(
        session, w.sme(), w.service.id, starts_at=beijing("2026-06-17 09:00"), hours=1, now=NOW
    )
    session.expire_all()
    assert booking.starts_at.utcoffset() == timedelta(0)
    assert (booking.starts_at.day, booking.starts_at.hour) == (17, 1)  # 09:00 CST = 01:00 UTC


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"open_weekdays": "8"}, {"open_weekdays"}),
        ({"opens_hour": 17, "closes_hour": 9}, {"closes_hour"}),
        ({"min_hours": 5, "max_hours": 4}, {"max_hours"}),
        ({"opens_hour": 9, "closes_hour": 11, "min_hours": 3, "max_hours": 4}, {"min_hours"}),
        (
            {"lead_time_hours": -1, "free_cancel_hours": 2000},
            {"lead_time_hours", "free_cancel_hours"},
        ),
        ({"no_show_fee_bps": 10_001, "terms_note": "x" * 2001}, {"no_show_fee_bps", "terms_note"}),
    ],
)
def test_calendar_settings_refused_field_by_field(session, instrument, values, fields):
    before = instrument.calendar.version
    with pytest.raises(ValidationFailed) as refused:
        services.set_calendar(
            session, instrument.seller, instrument.service.id, services.CalendarInput(**values)
        )
    assert set(refused.value.errors) == fields
    assert instrument.calendar.version == before


def test_closures_refused_and_only_on_ones_own_instrument(session, instrument, order_world):
    w = instrument
    with pytest.raises(ValidationFailed) as refused:
        services.add_closure(
            session,
            w.seller,
            w.service.id,
            starts_on=date(2026, 7, 2),
            ends_on=date(2026, 7, 1),
            reason="x",
        )
    assert set(refused.value.errors) == {"ends_on", "reason"}
    with pytest.raises(ValidationFailed):
        services.add_closure(
            session,
            w.seller,
            w.service.id,
            starts_on=date(2026, 7, 1),
            ends_on=date(2027, 8, 1),
            reason="停用",
        )
    other = order_world.provider_user(order_world.create_provider())
    with pytest.raises(InstrumentNotFound):
        services.add_closure(
            session,
            other,
            w.service.id,
            starts_on=date(2026, 7, 1),
            ends_on=date(2026, 7, 1),
            reason="停用",
        )
    closure = services.add_closure(
        session,
        w.seller,
        w.service.id,
        starts_on=date(2026, 7, 1),
        ends_on=date(2026, 7, 1),
        reason="停用",
    )
    with pytest.raises(InstrumentNotFound):
        services.remove_closure(session, other, w.service.id, closure.id)
    services.remove_closure(session, w.seller, w.service.id, closure.id)
    assert w.calendar.closures == []
    with pytest.raises(InstrumentNotFound):  # a service that is not listed or bookable
        services.bookable_calendar(session, 2**62)
