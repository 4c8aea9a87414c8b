"""The voucher state machine, tested as a table over every (state, action) pair."""

import itertools
from types import SimpleNamespace

import pytest

from vouchers.enums import VoucherAction, VoucherStatus
from vouchers.errors import InvalidTransition
from vouchers.rules import VOUCHER

#: The whole expected table, written out independently of the machine.
EXPECTED = {
    "active": {
        "exhaust": "exhausted",
        "expire": "expired",
        "revoke": "revoked",
        "freeze": "frozen",
    },
    "exhausted": {
        "replenish": "active",
        "expire": "expired",
        "revoke": "revoked",
        "freeze": "frozen",
    },
    "expired": {"revoke": "revoked"},
    "revoked": {},
    "frozen": {"unfreeze": "active", "revoke": "revoked"},
}


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {s.value for s in VoucherStatus}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(VoucherStatus, VoucherAction)),
    ids=lambda v: v.value,
)
def test_every_state_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert VOUCHER.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition) as info:
            VOUCHER.next(status, action)
        assert (info.value.code, info.value.status, info.value.extra) == (
            "invalid_transition",
            409,
            {},
        )
    else:
        assert VOUCHER.next(status, action) is VoucherStatus(expected)


def test_a_second_revocation_is_refused_as_it_always_was():
    voucher = SimpleNamespace(status=VoucherStatus.REVOKED)
    with pytest.raises(InvalidTransition) as info:
        VOUCHER.move(voucher, VoucherAction.REVOKE)
    assert voucher.status is VoucherStatus.REVOKED
    assert (info.value.code, info.value.status, info.value.extra) == ("invalid_transition", 409, {})
    assert info.value.message == "电子券已被撤销 / the voucher is already revoked"


def test_a_refused_move_names_the_state_and_the_action():
    voucher = SimpleNamespace(status=VoucherStatus.EXPIRED)
    with pytest.raises(InvalidTransition) as info:
        VOUCHER.move(voucher, VoucherAction.EXHAUST)
    assert voucher.status is VoucherStatus.EXPIRED
    assert info.value.message == (
        "电子券当前为“已过期”，不能执行“exhaust” / cannot exhaust a voucher that is expired"
    )
