"""The booking machine as a literal table over every (status, action), and the calendar's
pure rules: slots, fees, offered hours, weekday input."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from marketplace.clock import CHINA_TZ
from marketplace.instruments import rules
from marketplace.instruments.enums import BookingAction, BookingStatus
from marketplace.instruments.errors import IllegalBookingMove, SlotUnavailable

#: The whole expected table, written out independently of marketplace.instruments.rules.
EXPECTED = {
    None: {"request": "requested"},
    "requested": {"confirm": "confirmed", "decline": "declined", "cancel": "cancelled"},
    "confirmed": {"cancel": "cancelled", "record_use": "used", "no_show": "no_show"},
    "declined": {},
    "cancelled": {},
    "used": {},
    "no_show": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) - {None} == {s.value for s in BookingStatus}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product([None, *BookingStatus], BookingAction)),
    ids=str,
)
def test_every_status_action_pair(status, action):
    expected = EXPECTED[status.value if status else None].get(action.value)
    assert rules.BOOKING.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(IllegalBookingMove) as caught:
            rules.BOOKING.next(status, action)
        assert (caught.value.code, caught.value.status) == ("illegal_booking_transition", 409)
    else:
        assert rules.BOOKING.next(status, action) is BookingStatus(expected)


def test_a_move_refused_changes_nothing():
    booking = SimpleNamespace(status=BookingStatus.DECLINED)
    with pytest.raises(IllegalBookingMove):
        rules.BOOKING.move(booking, BookingAction.CONFIRM)
    assert booking.status is BookingStatus.DECLINED


def test_holding_statuses_match_the_migrations_exclusion_constraint():
    migration = (
        Path(__file__).resolve().parents[3]
        / "migrations/versions/0012_instruments_accreditation.py"
    ).read_text(encoding="utf-8")
    listed = "(" + ", ".join(f"'{s}'" for s in ("requested", "confirmed", "used", "no_show")) + ")"
    assert listed in migration
    assert {s.value for s in rules.HOLDING} == {"requested", "confirmed", "used", "no_show"}


CAL = rules.Calendar("12345", 9, 17, 1, 4, 24)
NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # Monday 12:00 Beijing


def test_a_slot_is_returned_in_utc():
    start, end = rules.check_slot(CAL, [], datetime(2026, 6, 17, 9, 0, tzinfo=CHINA_TZ), 2, NOW)
    assert (start, end) == (
        datetime(2026, 6, 17, 1, 0, tzinfo=UTC),
        datetime(2026, 6, 17, 3, 0, tzinfo=UTC),
    )


def test_the_lead_time_counts_to_the_hour():
    # Exactly 24 hours ahead is allowed; a minute less is not.
    rules.check_slot(CAL, [], datetime(2026, 6, 16, 12, 0, tzinfo=CHINA_TZ), 1, NOW)
    with pytest.raises(SlotUnavailable):
        rules.check_slot(
            CAL, [], datetime(2026, 6, 16, 12, 0, tzinfo=CHINA_TZ), 1, NOW.replace(minute=1)
        )


@pytest.mark.parametrize(
    ("price", "bps", "fee"), [(120_000, 5000, 60_000), (99_999, 5000, 49_999), (100, 0, 0)]
)
def test_no_show_fee_rounds_down(price, bps, fee):
    assert rules.no_show_fee(price, bps) == fee


def test_free_cancellation_deadline():
    start = datetime(2026, 6, 17, 1, 0, tzinfo=UTC)
    assert rules.may_cancel_free(start, 24, datetime(2026, 6, 16, 1, 0, tzinfo=UTC))
    assert not rules.may_cancel_free(start, 24, datetime(2026, 6, 16, 1, 1, tzinfo=UTC))


def test_hours_offered_skip_closed_days_and_weekends():
    closures = [rules.Closure(date(2026, 6, 18), date(2026, 6, 19), "端午")]
    # June 2026: 22 weekdays, two of them closed → 20 days × 8 hours.
    assert rules.opening_hours_in(CAL, closures, date(2026, 6, 1), date(2026, 6, 30)) == 160


@pytest.mark.parametrize(
    ("text", "digits"), [("1,2,3,4,5", "12345"), ("7 6", "67"), ("5511", "15")]
)
def test_weekday_input(text, digits):
    assert rules.parse_weekdays(text) == digits


@pytest.mark.parametrize("text", ["", "0", "8", "周一", "1-5"])
def test_weekday_input_refused(text):
    with pytest.raises(ValueError):
        rules.parse_weekdays(text)
