"""Beijing time: the one clock the platform shows and the calendar its yearly caps run on.

Times are stored in UTC; people in Yunnan read and think in China Standard Time (UTC+8, no daylight
saving since 1991, so a fixed offset needs no tzdata). Caps, deadlines and "today" are calendar
days in China.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")


def local_date(now: datetime) -> date:
    """The calendar date in China at ``now`` (an aware datetime)."""
    return beijing(now).date()


def beijing(moment: datetime) -> datetime:
    """``moment`` in Beijing time; naive datetimes are refused (they are ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pass an aware datetime")
    return moment.astimezone(CHINA_TZ)


def beijing_text(moment: datetime | None, with_seconds: bool = False) -> str:
    """``2026-03-01 14:05`` in Beijing time, as pages and exports show it ("" for no time)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        # Values read back from SQLite lose their zone; the platform stores UTC only.
        moment = moment.replace(tzinfo=UTC)
    return beijing(moment).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def today(now: datetime | None = None) -> date:
    """Today's date in China, where notice periods, expiry dates and caps are counted."""
    return local_date(now or datetime.now(UTC))


def year_span(year: int) -> tuple[datetime, datetime]:
    """The Beijing calendar year ``year`` as UTC instants [start, end): what "in 2026" means
    for statistics and dashboards (1 January 00:00 Beijing time is 31 December 16:00 UTC)."""
    return _midnight(year, 1), _midnight(year + 1, 1)


def month_span(year: int, month: int) -> tuple[datetime, datetime]:
    """The Beijing calendar month as UTC instants [start, end)."""
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return _midnight(year, month), _midnight(*following)


def _midnight(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=CHINA_TZ).astimezone(UTC)
