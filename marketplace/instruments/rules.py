"""Pure policy of instrument booking: the booking machine, the calendar's availability and
the price — no database, so every rule is tested as a table.

::

    (new) ─request→ requested ─confirm→ confirmed ─record_use→ used
                        │  ╲decline→ declined   │ ╲no_show→ no_show
                        ╰─cancel→ cancelled ←cancel╯

Availability is computed on Beijing wall-clock hours (:mod:`marketplace.clock`): an hour is
bookable when its day is an open weekday and not closed, the hour lies within the opening
hours, it starts at least the lead time after *now*, and no holding booking covers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from marketplace.clock import CHINA_TZ, beijing
from marketplace.instruments.enums import BookingAction, BookingStatus
from marketplace.instruments.errors import IllegalBookingMove, SlotUnavailable
from marketplace.statemachine import StateMachine

S, A = BookingStatus, BookingAction

BOOKING: StateMachine[BookingStatus, BookingAction] = StateMachine(
    "instrument booking",
    {
        (None, A.REQUEST): S.REQUESTED,
        (S.REQUESTED, A.CONFIRM): S.CONFIRMED,
        (S.REQUESTED, A.DECLINE): S.DECLINED,
        (S.REQUESTED, A.CANCEL): S.CANCELLED,
        (S.CONFIRMED, A.CANCEL): S.CANCELLED,
        (S.CONFIRMED, A.RECORD_USE): S.USED,
        (S.CONFIRMED, A.NO_SHOW): S.NO_SHOW,
    },
    refuse=lambda status, action: IllegalBookingMove(
        f"预约当前状态不能执行此操作 / a booking that is {status.value if status else 'new'}"
        f" cannot {action.value}",
        extra={"state": status.value if status else "new", "action": action.value},
    ),
)

#: Bookings that keep their hours from anyone else (the same list as the PostgreSQL
#: exclusion constraint's WHERE in migration 0012).
HOLDING = frozenset({S.REQUESTED, S.CONFIRMED, S.USED, S.NO_SHOW})
BPS = 10_000
#: How far ahead the calendar can be booked.
HORIZON_DAYS = 90


@dataclass(frozen=True)
class Calendar:
    """What availability needs of an instrument's calendar (the model has these fields)."""

    open_weekdays: str
    opens_hour: int
    closes_hour: int
    min_hours: int
    max_hours: int
    lead_time_hours: int


@dataclass(frozen=True)
class Closure:
    starts_on: date
    ends_on: date
    reason: str


class Cell(StrEnum):
    """The state of one hour on the week calendar."""

    FREE = "free"
    BOOKED = "booked"
    CLOSED = "closed"  # a closure day
    TOO_SOON = "too_soon"  # in the past or within the lead time


@dataclass(frozen=True)
class Hour:
    starts_at: datetime  # Beijing time
    cell: Cell
    note: str = ""


@dataclass(frozen=True)
class Day:
    day: date
    open: bool
    hours: tuple[Hour, ...]
    closure: str = ""


def at_beijing(day: date, hour: int) -> datetime:
    """``day`` at ``hour``:00 Beijing time (hour 24 is the next midnight)."""
    return datetime.combine(day, time(0), tzinfo=CHINA_TZ) + timedelta(hours=hour)


def closure_on(closures: Iterable[Closure], day: date) -> Closure | None:
    return next((c for c in closures if c.starts_on <= day <= c.ends_on), None)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def _overlaps(start: datetime, end: datetime, busy: Sequence[tuple[datetime, datetime]]) -> bool:
    return any(s < end and start < e for s, e in busy)


def day_availability(
    calendar: Calendar,
    closures: Sequence[Closure],
    busy: Sequence[tuple[datetime, datetime]],
    day: date,
    now: datetime,
) -> Day:
    """One day of the calendar: each opening hour with its state. ``busy`` are the holding
    bookings' ``(starts_at, ends_at)`` (aware datetimes, any zone)."""
    if str(day.isoweekday()) not in calendar.open_weekdays:
        return Day(day, False, ())
    closure = closure_on(closures, day)
    earliest = now + timedelta(hours=calendar.lead_time_hours)
    hours = []
    for hour in range(calendar.opens_hour, calendar.closes_hour):
        start = at_beijing(day, hour)
        end = start + timedelta(hours=1)
        if closure is not None:
            cell = Cell.CLOSED
        elif start < earliest:
            cell = Cell.TOO_SOON
        elif _overlaps(start, end, busy):
            cell = Cell.BOOKED
        else:
            cell = Cell.FREE
        hours.append(Hour(start, cell))
    return Day(day, True, tuple(hours), closure.reason if closure else "")


def week_availability(
    calendar: Calendar,
    closures: Sequence[Closure],
    busy: Sequence[tuple[datetime, datetime]],
    monday: date,
    now: datetime,
) -> list[Day]:
    return [
        day_availability(calendar, closures, busy, monday + timedelta(days=i), now)
        for i in range(7)
    ]


def _refuse(message: str, reason: str) -> SlotUnavailable:
    return SlotUnavailable(message, field="starts_at", extra={"reason": reason})


def check_slot(
    calendar: Calendar,
    closures: Sequence[Closure],
    starts_at: datetime,
    hours: int,
    now: datetime,
) -> tuple[datetime, datetime]:
    """The booking ``[starts_at, starts_at + hours)`` in UTC, if the calendar allows it
    (existing bookings are the caller's check). Raises SlotUnavailable (with ``reason``:
    ``length``, ``whole_hours``, ``closed_day``, ``closure``, ``opening_hours``,
    ``lead_time``, ``horizon``)."""
    if isinstance(hours, bool) or not calendar.min_hours <= hours <= calendar.max_hours:
        raise _refuse(
            f"预约时长须为 {calendar.min_hours}–{calendar.max_hours} 小时 / a booking lasts"
            f" {calendar.min_hours}–{calendar.max_hours} hours",
            "length",
        )
    local = beijing(starts_at)
    if (local.minute, local.second, local.microsecond) != (0, 0, 0):
        raise _refuse("预约须从整点开始 / bookings start on the hour", "whole_hours")
    day = local.date()
    if str(day.isoweekday()) not in calendar.open_weekdays:
        raise _refuse("该日不开放 / the instrument is not open on that day", "closed_day")
    closure = closure_on(closures, day)
    if closure is not None:
        raise _refuse(f"该日停用：{closure.reason} / closed that day: {closure.reason}", "closure")
    if local.hour < calendar.opens_hour or local.hour + hours > calendar.closes_hour:
        raise _refuse(
            f"须在开放时间 {calendar.opens_hour:02d}:00–{calendar.closes_hour:02d}:00 内 /"
            f" within the opening hours {calendar.opens_hour:02d}:00–"
            f"{calendar.closes_hour:02d}:00 (Beijing time)",
            "opening_hours",
        )
    if starts_at < now + timedelta(hours=calendar.lead_time_hours):
        raise _refuse(
            f"须至少提前 {calendar.lead_time_hours} 小时预约 / book at least"
            f" {calendar.lead_time_hours} hours ahead",
            "lead_time",
        )
    if starts_at > now + timedelta(days=HORIZON_DAYS):
        raise _refuse(
            f"最多可预约 {HORIZON_DAYS} 天内的时段 / bookable at most {HORIZON_DAYS} days ahead",
            "horizon",
        )
    start = starts_at.astimezone(UTC)
    return start, start + timedelta(hours=hours)


def may_cancel_free(starts_at: datetime, free_cancel_hours: int, now: datetime) -> bool:
    """Whether the SME may still cancel a confirmed booking under the provider's terms."""
    return now <= starts_at - timedelta(hours=free_cancel_hours)


def no_show_fee(price_fen: int, fee_bps: int) -> int:
    """The no-show charge under the provider's terms, rounded down to the fen."""
    return price_fen * fee_bps // BPS


def opening_hours_in(
    calendar: Calendar, closures: Sequence[Closure], first: date, last: date
) -> int:
    """Hours offered between ``first`` and ``last`` (inclusive): open weekdays not closed."""
    total, day = 0, first
    while day <= last:
        if str(day.isoweekday()) in calendar.open_weekdays and closure_on(closures, day) is None:
            total += calendar.closes_hour - calendar.opens_hour
        day += timedelta(days=1)
    return total


def parse_weekdays(text: str) -> str:
    """Normalise an open-weekday input ("1,2,3,4,5", "12345") to sorted unique digits 1–7;
    raises ValueError for anything else."""
    digits = [c for c in text if not c.isspace() and c != ","]
    if not digits or any(c not in "1234567" for c in digits):
        raise ValueError("weekdays are digits 1 (Monday) to 7 (Sunday)")
    return "".join(sorted(set(digits)))
