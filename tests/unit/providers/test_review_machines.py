"""The three reviewed requests that share ``ReviewStatus`` (maker-checker): a document uploaded
after the file was reviewed, a requested qualification number, the end of a related-party
declaration. Each machine tested as a table over every (status, action)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ReviewAction, ReviewStatus
from providers.errors import ReviewNotPending
from providers.rules import DOCUMENT_REVIEW, QUALIFICATION_CHANGE, RELATED_PARTY_WITHDRAWAL

#: The whole expected tables, written out independently of providers.rules. A newer upload is
#: a document of its own, so documents are never superseded; the other two are.
DECIDED_ONLY = {"pending": {"approve": "accepted", "reject": "rejected"}}
DECIDED_OR_REPLACED = {
    "pending": {"approve": "accepted", "reject": "rejected", "supersede": "superseded"}
}
MACHINES = {
    "document": (DOCUMENT_REVIEW, "review_status", DECIDED_ONLY),
    "qualification_change": (QUALIFICATION_CHANGE, "status", DECIDED_OR_REPLACED),
    "related_party_withdrawal": (RELATED_PARTY_WITHDRAWAL, "status", DECIDED_OR_REPLACED),
}


@pytest.mark.parametrize(
    ("kind", "status", "action"),
    list(itertools.product(MACHINES, ReviewStatus, ReviewAction)),
    ids=str,
)
def test_every_status_action_pair(kind, status, action):
    machine, attribute, table = MACHINES[kind]
    expected = table.get(status.value, {}).get(action.value)
    assert machine.attribute == attribute
    assert machine.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ReviewNotPending) as caught:
            machine.next(status, action)
        assert (caught.value.code, caught.value.status) == ("review_not_pending", 409)
        assert caught.value.extra == {"status": status.value}
    else:
        assert machine.next(status, action) is ReviewStatus(expected)


@pytest.mark.parametrize(
    ("kind", "first", "then", "decided", "words"),
    [
        (
            "document",
            ReviewAction.APPROVE,
            ReviewAction.REJECT,
            ReviewStatus.ACCEPTED,
            "该申请已处理（已通过） / this was already decided (accepted)",
        ),
        (
            "qualification_change",
            ReviewAction.REJECT,
            ReviewAction.APPROVE,
            ReviewStatus.REJECTED,
            "该申请已处理（已驳回） / this was already decided (rejected)",
        ),
        (
            "related_party_withdrawal",
            ReviewAction.APPROVE,
            ReviewAction.SUPERSEDE,
            ReviewStatus.ACCEPTED,
            "该撤回申请已处理（已通过） / the withdrawal was already accepted",
        ),
    ],
)
def test_a_decided_request_is_refused_in_its_own_words_and_left_alone(
    kind, first, then, decided, words
):
    machine, attribute, _table = MACHINES[kind]
    request = SimpleNamespace(**{attribute: ReviewStatus.PENDING})
    machine.move(request, first)
    with pytest.raises(ReviewNotPending) as caught:
        machine.move(request, then)
    assert getattr(request, attribute) is decided
    assert caught.value.message == words
