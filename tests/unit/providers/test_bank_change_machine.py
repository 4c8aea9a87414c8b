"""A settlement account change (maker-checker), tested as a table over every (status, action)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import BankChangeStatus, ReviewAction
from providers.errors import BankChangeNotPending
from providers.rules import BANK_CHANGE

#: The whole expected table, written out independently of providers.rules.
EXPECTED = {
    "pending": {"approve": "approved", "reject": "rejected", "supersede": "superseded"},
    "approved": {},
    "rejected": {},
    "superseded": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in BankChangeStatus}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(BankChangeStatus, ReviewAction)), ids=str
)
def test_every_status_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert BANK_CHANGE.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(BankChangeNotPending) as caught:
            BANK_CHANGE.next(status, action)
        assert (caught.value.code, caught.value.status) == ("bank_change_not_pending", 409)
        assert caught.value.extra == {"status": status.value}
    else:
        assert BANK_CHANGE.next(status, action) is BankChangeStatus(expected)


def test_a_decided_change_is_refused_and_left_alone():
    change = SimpleNamespace(status=BankChangeStatus.PENDING)
    BANK_CHANGE.move(change, ReviewAction.SUPERSEDE)
    with pytest.raises(BankChangeNotPending) as caught:
        BANK_CHANGE.move(change, ReviewAction.APPROVE)
    assert change.status is BankChangeStatus.SUPERSEDED
    assert caught.value.message == (
        "该申请已处理（已被新申请取代） / the request was already replaced by a newer request"
    )
