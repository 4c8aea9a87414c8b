"""The machine of a blacklisting's freeze on one order, tested as a table over every pair."""

import itertools

import pytest

from vouchers.enums import FreezeAction, FreezeStatus
from vouchers.errors import InvalidTransition
from vouchers.rules import HOLD_FREEZE

#: Written out independently of the machine: decided once, by a reviewer or by the lifting.
EXPECTED = {
    "frozen": {"release": "released", "unfreeze": "unfrozen", "lift": "lifted"},
    "released": {},
    "unfrozen": {},
    "lifted": {},
}


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {s.value for s in FreezeStatus}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(FreezeStatus, FreezeAction)),
    ids=lambda v: v.value,
)
def test_every_state_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert HOLD_FREEZE.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition):
            HOLD_FREEZE.next(status, action)
    else:
        assert HOLD_FREEZE.next(status, action) is FreezeStatus(expected)
