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
