"""The freeze machines — a blacklisting's on one order, a suspension's on one claim line —
tested as a table over every pair."""

import itertools

import pytest

from marketplace.settlement.errors import ClaimStateConflict
from marketplace.settlement.rules import LINE_FREEZE
from vouchers.enums import FreezeAction, FreezeStatus
from vouchers.errors import InvalidTransition
from vouchers.rules import HOLD_FREEZE

MACHINES = [(HOLD_FREEZE, InvalidTransition), (LINE_FREEZE, ClaimStateConflict)]

#: Written out independently of the machine: decided once, by a reviewer or by the lifting.
EXPECTED = {
    "frozen": {"release": "released", "unfreeze": "unfrozen", "lift": "lifted"},
    "released": {},
    "unfrozen": {},
    "lifted": {},
}


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {s.value for s in FreezeStatus}


@pytest.mark.parametrize(("machine", "error"), MACHINES, ids=["hold", "claim_line"])
@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(FreezeStatus, FreezeAction)),
    ids=lambda v: v.value,
)
def test_every_state_action_pair(machine, error, status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert machine.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(error):
            machine.next(status, action)
    else:
        assert machine.next(status, action) is FreezeStatus(expected)
