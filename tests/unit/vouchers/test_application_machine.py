"""The application state machine, tested as a table over every (state, action) pair, a new
application (state ``None``) included."""

import itertools
from types import SimpleNamespace

import pytest

from vouchers.enums import ApplicationAction, ApplicationStatus
from vouchers.errors import InvalidTransition
from vouchers.rules import APPLICATION

#: The whole expected table, written out independently of the machine ("new" is ``None``).
EXPECTED = {
    "new": {"submit": "submitted", "bulk_issue": "approved"},
    "submitted": {
        "request_clarification": "clarification_requested",
        "approve": "approved",
        "reject": "rejected",
    },
    "clarification_requested": {"clarify": "submitted", "reject": "rejected"},
    "approved": {},
    "rejected": {},
}


def label(value: ApplicationStatus | ApplicationAction | None) -> str:
    return "new" if value is None else value.value


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {"new", *(s.value for s in ApplicationStatus)}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product([None, *ApplicationStatus], ApplicationAction)),
    ids=label,
)
def test_every_state_action_pair(status, action):
    expected = EXPECTED[label(status)].get(action.value)
    assert APPLICATION.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition) as info:
            APPLICATION.next(status, action)
        assert (info.value.code, info.value.status, info.value.extra) == (
            "invalid_transition",
            409,
            {},
        )
    else:
        assert APPLICATION.next(status, action) is ApplicationStatus(expected)


def test_a_move_sets_the_status_and_answers_before_and_after():
    application = SimpleNamespace(status=ApplicationStatus.SUBMITTED)
    assert APPLICATION.move(application, ApplicationAction.APPROVE) == (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.APPROVED,
    )
    assert application.status is ApplicationStatus.APPROVED


def test_a_refused_move_changes_nothing_and_says_why():
    application = SimpleNamespace(status=ApplicationStatus.APPROVED)
    with pytest.raises(InvalidTransition) as info:
        APPLICATION.move(application, ApplicationAction.REJECT)
    assert application.status is ApplicationStatus.APPROVED
    assert (info.value.code, info.value.status, info.value.extra) == ("invalid_transition", 409, {})
    assert info.value.message == (
        "申请当前状态为“已批准”，不能执行“驳回” / cannot 'reject' an application that is approved"
    )


def test_a_refused_creation_names_the_new_application():
    with pytest.raises(InvalidTransition) as info:
        APPLICATION.next(None, ApplicationAction.APPROVE)
    assert info.value.message == (
        "申请当前状态为“新申请”，不能执行“批准并发券” / cannot 'approve' an application that is new"
    )
