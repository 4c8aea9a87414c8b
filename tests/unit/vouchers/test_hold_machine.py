"""The hold state machine, tested as a table over every (state, action) pair."""

import itertools
from types import SimpleNamespace

import pytest

from vouchers.enums import HoldAction, HoldStatus
from vouchers.errors import HoldNotOpen
from vouchers.rules import HOLD

#: The whole expected table, written out independently of the machine.
EXPECTED = {
    "open": {"capture": "captured", "release": "released"},
    "captured": {"reverse_capture": "released"},
    "released": {},
}


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {s.value for s in HoldStatus}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(HoldStatus, HoldAction)),
    ids=lambda v: v.value,
)
def test_every_state_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert HOLD.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(HoldNotOpen) as info:
            HOLD.next(status, action)
        assert (info.value.code, info.value.status, info.value.extra) == (
            "hold_resolved",
            409,
            {"hold_status": status.value},
        )
    else:
        assert HOLD.next(status, action) is HoldStatus(expected)


def test_a_resolved_hold_is_not_resolved_again():
    hold = SimpleNamespace(status=HoldStatus.CAPTURED)
    with pytest.raises(HoldNotOpen) as info:
        HOLD.move(hold, HoldAction.RELEASE)
    assert hold.status is HoldStatus.CAPTURED
    assert (info.value.code, info.value.extra) == ("hold_resolved", {"hold_status": "captured"})
    assert info.value.message == "该冻结已已核销，不能再次处理 / the hold is already captured"


def test_only_a_captured_hold_is_given_back():
    hold = SimpleNamespace(status=HoldStatus.OPEN)
    with pytest.raises(HoldNotOpen) as info:
        HOLD.move(hold, HoldAction.REVERSE_CAPTURE)
    assert hold.status is HoldStatus.OPEN
    assert (info.value.code, info.value.extra) == ("hold_resolved", {"hold_status": "open"})
    assert info.value.message == "该冻结未核销，无需冲回 / the hold is open, not captured"
