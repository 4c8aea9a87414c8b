"""A requested qualification number (maker-checker), tested as a table over every
(status, action)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ReviewAction, ReviewStatus
from providers.errors import ReviewNotPending
from providers.rules import QUALIFICATION_CHANGE

#: The whole expected table, written out independently of providers.rules.
EXPECTED = {
    "pending": {"approve": "accepted", "reject": "rejected", "supersede": "superseded"},
    "accepted": {},
    "rejected": {},
    "superseded": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in ReviewStatus}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(ReviewStatus, ReviewAction)), ids=str
)
def test_every_status_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert QUALIFICATION_CHANGE.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ReviewNotPending) as caught:
            QUALIFICATION_CHANGE.next(status, action)
        assert (caught.value.code, caught.value.status) == ("review_not_pending", 409)
        assert caught.value.extra == {"status": status.value}
    else:
        assert QUALIFICATION_CHANGE.next(status, action) is ReviewStatus(expected)


def test_a_decided_change_is_refused_and_left_alone():
    change = SimpleNamespace(status=ReviewStatus.PENDING)
    QUALIFICATION_CHANGE.move(change, ReviewAction.REJECT)
    with pytest.raises(ReviewNotPending) as caught:
        QUALIFICATION_CHANGE.move(change, ReviewAction.APPROVE)
    assert change.status is ReviewStatus.REJECTED
    assert caught.value.message == "该申请已处理（已驳回） / this was already decided (rejected)"
