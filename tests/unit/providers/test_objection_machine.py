"""An objection to a provider's public notice, tested as a table over every (status, action)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ObjectionAction, ObjectionStatus
from providers.errors import ObjectionAlreadyDecided
from providers.rules import OBJECTION

#: The whole expected table, written out independently of providers.rules.
EXPECTED = {
    "open": {"uphold": "upheld", "dismiss": "dismissed"},
    "upheld": {},
    "dismissed": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in ObjectionStatus}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(ObjectionStatus, ObjectionAction)), ids=str
)
def test_every_status_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert OBJECTION.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ObjectionAlreadyDecided) as caught:
            OBJECTION.next(status, action)
        assert (caught.value.code, caught.value.status) == ("objection_already_decided", 409)
        assert caught.value.extra == {}
    else:
        assert OBJECTION.next(status, action) is ObjectionStatus(expected)


def test_a_decided_objection_is_refused_and_left_alone():
    objection = SimpleNamespace(status=ObjectionStatus.OPEN)
    OBJECTION.move(objection, ObjectionAction.DISMISS)
    with pytest.raises(ObjectionAlreadyDecided) as caught:
        OBJECTION.move(objection, ObjectionAction.UPHOLD)
    assert objection.status is ObjectionStatus.DISMISSED
    assert (
        caught.value.message == "该异议已处理（异议不成立） / the objection was already dismissed"
    )
