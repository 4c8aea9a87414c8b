from datetime import UTC, date, datetime, timedelta

import pytest

from marketplace import clock


def test_the_day_changes_at_midnight_in_beijing_not_in_utc():
    assert clock.local_date(datetime(2025, 12, 31, 16, tzinfo=UTC)) == date(2026, 1, 1)
    assert clock.local_date(datetime(2025, 12, 31, 15, 59, tzinfo=UTC)) == date(2025, 12, 31)
    assert clock.today(datetime(2026, 6, 30, 20, tzinfo=UTC)) == date(2026, 7, 1)


def test_text_in_beijing_time():
    moment = datetime(2026, 3, 1, 6, 5, 9, tzinfo=UTC)
    assert clock.beijing_text(moment) == "2026-03-01 14:05"
    assert clock.beijing_text(moment, with_seconds=True) == "2026-03-01 14:05:09"
    # SQLite gives naive values back; the platform stores UTC only.
    assert clock.beijing_text(moment.replace(tzinfo=None)) == "2026-03-01 14:05"
    assert clock.beijing_text(None) == ""
    assert clock.beijing(moment).utcoffset() == timedelta(hours=8)


def test_naive_datetimes_are_refused_where_the_day_matters():
    with pytest.raises(ValueError):
        clock.local_date(datetime(2026, 1, 1))


def test_year_and_month_spans_are_beijing_calendar_periods_in_utc():
    start, end = clock.year_span(2026)
    assert start == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    # 00:30 on 1 January in Beijing is still 2025 in UTC, and belongs to 2026.
    assert start <= datetime(2025, 12, 31, 16, 30, tzinfo=UTC) < end
    assert clock.month_span(2026, 12) == (datetime(2026, 11, 30, 16, tzinfo=UTC), end)
    assert clock.month_span(2026, 2) == (
        datetime(2026, 1, 31, 16, tzinfo=UTC),
        datetime(2026, 2, 28, 16, tzinfo=UTC),
    )
