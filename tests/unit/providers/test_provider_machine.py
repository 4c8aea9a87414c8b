"""The provider's admission machine, tested as a table over every (status, action)."""

import itertools
from types import SimpleNamespace

import pytest

from providers.enums import ProviderAction, ProviderStatus
from providers.errors import TransitionNotAllowed
from providers.rules import PROVIDER, REASON_REQUIRED

#: The whole expected table, written out independently of providers.rules.
EXPECTED = {
    "pending": {"submit": "pending", "pass_to_notice": "in_notice", "reject": "rejected"},
    "in_notice": {"uphold_objection": "rejected", "admit": "admitted"},
    "admitted": {"suspend": "suspended", "revoke": "revoked"},
    "rejected": {"submit": "pending"},
    "suspended": {"reinstate": "admitted", "revoke": "revoked"},
    "revoked": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in ProviderStatus}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(ProviderStatus, ProviderAction)), ids=str
)
def test_every_status_action_pair(status, action):
    expected = EXPECTED[status.value].get(action.value)
    assert PROVIDER.allows(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as caught:
            PROVIDER.next(status, action)
        assert (caught.value.code, caught.value.status) == ("provider_transition_not_allowed", 409)
        assert caught.value.extra == {"provider_status": status.value, "action": action.value}
    else:
        assert PROVIDER.next(status, action) is ProviderStatus(expected)


def test_a_move_sets_the_status_and_a_refused_one_changes_nothing():
    provider = SimpleNamespace(status=ProviderStatus.ADMITTED)
    assert PROVIDER.move(provider, ProviderAction.SUSPEND) == (
        ProviderStatus.ADMITTED,
        ProviderStatus.SUSPENDED,
    )
    assert provider.status is ProviderStatus.SUSPENDED
    PROVIDER.move(provider, ProviderAction.REVOKE)
    with pytest.raises(TransitionNotAllowed) as caught:
        PROVIDER.move(provider, ProviderAction.REINSTATE)
    assert provider.status is ProviderStatus.REVOKED
    assert caught.value.message == (
        "“恢复”不适用于当前状态“已撤销” / reinstated is not allowed while the provider is revoked"
    )


def test_refusals_and_sanctions_state_a_reason():
    assert {a.value for a in REASON_REQUIRED} == {
        "reject",
        "uphold_objection",
        "suspend",
        "reinstate",
        "revoke",
    }
