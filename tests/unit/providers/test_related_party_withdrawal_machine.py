"""A request to end a related-party declaration (maker-checker), tested as a table over every
(status, action)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ReviewAction, ReviewStatus
from providers.errors import ReviewNotPending
from providers.rules import RELATED_PARTY_WITHDRAWAL

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
    assert RELATED_PARTY_WITHDRAWAL.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ReviewNotPending) as caught:
            RELATED_PARTY_WITHDRAWAL.next(status, action)
        assert (caught.value.code, caught.value.status) == ("review_not_pending", 409)
        assert caught.value.extra == {"status": status.value}
    else:
        assert RELATED_PARTY_WITHDRAWAL.next(status, action) is ReviewStatus(expected)


def test_a_decided_withdrawal_is_refused_in_its_own_words():
    withdrawal = SimpleNamespace(status=ReviewStatus.PENDING)
    RELATED_PARTY_WITHDRAWAL.move(withdrawal, ReviewAction.APPROVE)
    with pytest.raises(ReviewNotPending) as caught:
        RELATED_PARTY_WITHDRAWAL.move(withdrawal, ReviewAction.SUPERSEDE)
    assert withdrawal.status is ReviewStatus.ACCEPTED
    assert (
        caught.value.message == "该撤回申请已处理（已通过） / the withdrawal was already accepted"
    )
