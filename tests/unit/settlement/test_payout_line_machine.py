"""The payment line machine (the bank's outcome for one provider's payment), tested as a
table over every (status, action) pair."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from marketplace.settlement.enums import PayoutLineAction, PayoutLineStatus
from marketplace.settlement.errors import ConfirmationConflict
from marketplace.settlement.rules import PAYOUT_LINE

#: The whole expected table, written out independently of PAYOUT_LINE: confirmed once, for good.
EXPECTED = {
    "pending": {"pay": "paid", "fail": "failed"},
    "paid": {},
    "failed": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in PayoutLineStatus}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(PayoutLineStatus, PayoutLineAction)),
    ids=lambda v: v.value,
)
def test_every_status_action_pair(status, action):
    line = SimpleNamespace(status=status)
    expected = EXPECTED[status.value].get(action.value)
    if expected is None:
        with pytest.raises(ConfirmationConflict) as refused:
            PAYOUT_LINE.move(line, action)
        assert refused.value.code == "confirmation_conflict" and refused.value.status == 409
        assert refused.value.extra == {"payment_line_status": status.value, "action": action.value}
        assert line.status is status
    else:
        assert PAYOUT_LINE.move(line, action) == (status, PayoutLineStatus(expected))
        assert line.status is PayoutLineStatus(expected)


def test_a_refusal_names_the_step_in_both_languages():
    with pytest.raises(ConfirmationConflict) as refused:
        PAYOUT_LINE.next(PayoutLineStatus.FAILED, PayoutLineAction.PAY)
    assert refused.value.message == (
        "付款行状态为“拨付失败”，不能再记为“银行已拨付” / "
        "a payment line that is failed cannot be paid by the bank"
    )
