"""A reviewer's decision on a document uploaded after the file was reviewed, tested as a table
over every (status, action). A newer upload is a document of its own: none is superseded."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ReviewAction, ReviewStatus
from providers.errors import ReviewNotPending
from providers.rules import DOCUMENT_REVIEW

#: The whole expected table, written out independently of providers.rules.
EXPECTED = {
    "pending": {"approve": "accepted", "reject": "rejected"},
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
    assert DOCUMENT_REVIEW.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ReviewNotPending) as caught:
            DOCUMENT_REVIEW.next(status, action)
        assert (caught.value.code, caught.value.status) == ("review_not_pending", 409)
        assert caught.value.extra == {"status": status.value}
    else:
        assert DOCUMENT_REVIEW.next(status, action) is ReviewStatus(expected)


def test_the_machine_moves_the_review_status_and_refuses_a_decided_document():
    document = SimpleNamespace(review_status=ReviewStatus.PENDING)
    DOCUMENT_REVIEW.move(document, ReviewAction.APPROVE)
    assert document.review_status is ReviewStatus.ACCEPTED
    with pytest.raises(ReviewNotPending) as caught:
        DOCUMENT_REVIEW.move(document, ReviewAction.REJECT)
    assert document.review_status is ReviewStatus.ACCEPTED
    assert caught.value.message == "该申请已处理（已通过） / this was already decided (accepted)"
