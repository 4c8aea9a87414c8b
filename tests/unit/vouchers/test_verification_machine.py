"""The enterprise verification machine, tested as a table over every (status, decision) pair:
a reviewer's decision is the status it leads to."""

import itertools
from types import SimpleNamespace

import pytest

from vouchers.enums import VerificationStatus
from vouchers.errors import InvalidTransition
from vouchers.rules import VERIFICATION

#: The whole expected table, written out independently of the machine.
EXPECTED = {
    "pending": {"verified": "verified", "rejected": "rejected"},
    "verified": {"rejected": "rejected"},
    "rejected": {"verified": "verified"},
}


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {s.value for s in VerificationStatus}


@pytest.mark.parametrize(
    ("status", "decision"),
    list(itertools.product(VerificationStatus, VerificationStatus)),
    ids=lambda v: v.value,
)
def test_every_status_decision_pair(status, decision):
    expected = EXPECTED[status.value].get(decision.value)
    assert VERIFICATION.allows(status, decision) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition) as info:
            VERIFICATION.next(status, decision)
        assert (info.value.code, info.value.status, info.value.extra) == (
            "invalid_transition",
            409,
            {},
        )
    else:
        assert VERIFICATION.next(status, decision) is VerificationStatus(expected)


def test_a_move_writes_the_verification_status():
    enterprise = SimpleNamespace(verification_status=VerificationStatus.PENDING)
    assert VERIFICATION.move(enterprise, VerificationStatus.VERIFIED) == (
        VerificationStatus.PENDING,
        VerificationStatus.VERIFIED,
    )
    assert enterprise.verification_status is VerificationStatus.VERIFIED


def test_a_refused_move_changes_nothing_and_says_why():
    enterprise = SimpleNamespace(verification_status=VerificationStatus.VERIFIED)
    with pytest.raises(InvalidTransition) as info:
        VERIFICATION.move(enterprise, VerificationStatus.VERIFIED)
    assert enterprise.verification_status is VerificationStatus.VERIFIED
    assert (info.value.code, info.value.status, info.value.extra) == ("invalid_transition", 409, {})
    assert info.value.message == (
        "企业当前为“已核验”，不能改为“已核验” / cannot go from verified to verified"
    )
