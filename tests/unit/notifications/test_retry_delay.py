"""The outbox's back-off between delivery attempts (issue 17)."""

from datetime import timedelta

import pytest

from marketplace.notifications.models import retry_delay


def test_the_wait_doubles_from_a_minute_up_to_an_hour():
    assert [retry_delay(n) for n in range(1, 9)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)
    ]
    assert retry_delay(10_000) == timedelta(hours=1)


def test_attempts_count_from_one():
    with pytest.raises(ValueError):
        retry_delay(0)
