"""The payout batch machine, tested as a table over every (status, action) pair."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from marketplace.settlement.enums import PayoutBatchAction, PayoutBatchStatus
from marketplace.settlement.errors import PayoutStateConflict
from marketplace.settlement.rules import PAYOUT_BATCH

#: The whole expected table, written out independently of PAYOUT_BATCH.
EXPECTED = {
    "draft": {"approve": "draft", "send": "sent"},
    "sent": {"complete": "completed"},
    "completed": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in PayoutBatchStatus}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(PayoutBatchStatus, PayoutBatchAction)),
    ids=lambda v: v.value,
)
def test_every_status_action_pair(status, action):
    batch = SimpleNamespace(status=status)
    expected = EXPECTED[status.value].get(action.value)
    if expected is None:
        with pytest.raises(PayoutStateConflict) as refused:
            PAYOUT_BATCH.move(batch, action)
        assert refused.value.code == "payout_state_conflict" and refused.value.status == 409
        assert refused.value.extra == {"batch_status": status.value, "action": action.value}
        assert batch.status is status
    else:
        assert PAYOUT_BATCH.move(batch, action) == (status, PayoutBatchStatus(expected))
        assert batch.status is PayoutBatchStatus(expected)


def test_a_refusal_names_the_step_in_both_languages():
    with pytest.raises(PayoutStateConflict) as refused:
        PAYOUT_BATCH.next(PayoutBatchStatus.COMPLETED, PayoutBatchAction.SEND)
    assert refused.value.message == (
        "拨付批次状态为“银行已全部确认”，不能“发送银行” / "
        "a payout batch that is confirmed by the bank cannot be sent to the bank"
    )
