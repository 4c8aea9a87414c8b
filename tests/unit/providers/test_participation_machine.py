"""A provider's standing in one programme, tested as a table over every (status, action), and
what a reviewer may decide, over every (status, target)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ParticipationAction, ParticipationStatus
from providers.errors import ParticipationNotAllowed
from providers.rules import PARTICIPATION, PARTICIPATION_REASON_REQUIRED, REVIEWER_DECISIONS

#: The whole expected table, written out independently of providers.rules.
EXPECTED = {
    "applied": {"leave": "withdrawn", "admit": "admitted", "reject": "rejected"},
    "admitted": {"leave": "withdrawn", "withdraw": "withdrawn"},
    "rejected": {"apply": "applied", "admit": "admitted"},
    "withdrawn": {"apply": "applied", "admit": "admitted"},
}
#: Each action leads to one status; a refusal names it.
TARGETS = {
    "apply": "applied",
    "leave": "withdrawn",
    "admit": "admitted",
    "reject": "rejected",
    "withdraw": "withdrawn",
}
#: (from, to) a reviewer may decide: never applying for the provider, and an open application
#: is rejected, not withdrawn.
REVIEWER_MAY = {
    ("applied", "admitted"),
    ("applied", "rejected"),
    ("admitted", "withdrawn"),
    ("rejected", "admitted"),
    ("withdrawn", "admitted"),
}


def test_expected_table_covers_every_status_and_action():
    assert set(EXPECTED) == {s.value for s in ParticipationStatus}
    assert set(TARGETS) == {a.value for a in ParticipationAction}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(ParticipationStatus, ParticipationAction)),
    ids=str,
)
def test_every_status_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert PARTICIPATION.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ParticipationNotAllowed) as caught:
            PARTICIPATION.next(status, action)
        assert (caught.value.code, caught.value.status) == ("participation_not_allowed", 409)
        assert caught.value.extra == {
            "participation_status": status.value,
            "target": TARGETS[action.value],
        }
    else:
        assert PARTICIPATION.next(status, action) is ParticipationStatus(expected)


@pytest.mark.parametrize(
    ("current", "target"),
    list(itertools.product(ParticipationStatus, ParticipationStatus)),
    ids=str,
)
def test_what_a_reviewer_may_decide(current, target):
    action = REVIEWER_DECISIONS.get(target)
    decidable = action is not None and PARTICIPATION.allows(current, action)
    assert decidable is ((current.value, target.value) in REVIEWER_MAY)
    if action is not None:
        assert TARGETS[action.value] == target.value


def test_a_refused_move_names_the_target_and_changes_nothing():
    participation = SimpleNamespace(status=ParticipationStatus.APPLIED)
    with pytest.raises(ParticipationNotAllowed) as caught:
        PARTICIPATION.move(participation, ParticipationAction.WITHDRAW)
    assert participation.status is ParticipationStatus.APPLIED
    assert caught.value.message == (
        "项目参与状态不能从“已申请”改为“已退出” / a participation cannot go from applied to withdrawn"
    )
    assert PARTICIPATION.move(participation, ParticipationAction.LEAVE) == (
        ParticipationStatus.APPLIED,
        ParticipationStatus.WITHDRAWN,
    )
    assert participation.status is ParticipationStatus.WITHDRAWN


def test_a_reviewer_states_why_a_provider_is_refused_or_withdrawn():
    assert {a.value for a in PARTICIPATION_REASON_REQUIRED} == {"reject", "withdraw"}
