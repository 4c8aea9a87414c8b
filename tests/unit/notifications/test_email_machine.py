"""The outbox's machine: a message is queued until the SMTP server accepts it, then sent."""

import itertools

import pytest

from marketplace.notifications.models import EMAIL, EmailEvent, EmailStatus
from marketplace.statemachine import IllegalMove

EXPECTED = {("queued", "delivered"): "sent"}


@pytest.mark.parametrize(
    ("status", "event"), list(itertools.product(EmailStatus, EmailEvent)), ids=str
)
def test_every_state_and_event(status, event):
    expected = EXPECTED.get((status.value, event.value))
    if expected is None:
        assert not EMAIL.allows(status, event)
        with pytest.raises(IllegalMove):
            EMAIL.next(status, event)
    else:
        assert EMAIL.next(status, event) is EmailStatus(expected)
