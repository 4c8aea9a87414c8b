"""The dispute machine: open until the mediator decides it, once."""

import itertools
from types import SimpleNamespace

import pytest

from marketplace.orders.enums import DisputeStatus, Outcome
from marketplace.orders.errors import DisputeClosed
from marketplace.orders.rules import DISPUTE

#: Written out independently of the table under test.
EXPECTED = {
    ("open", "dismiss"): "dismissed",
    ("open", "uphold_partial"): "upheld_partial",
    ("open", "uphold_full"): "upheld_full",
}


@pytest.mark.parametrize(
    ("status", "outcome"), list(itertools.product(DisputeStatus, Outcome)), ids=str
)
def test_every_status_and_outcome(status, outcome):
    expected = EXPECTED.get((status.value, outcome.value))
    if expected is None:
        dispute = SimpleNamespace(status=status)
        with pytest.raises(DisputeClosed) as info:
            DISPUTE.move(dispute, outcome)
        assert (info.value.code, info.value.status) == ("dispute_closed", 409)
        assert info.value.extra == {"dispute_status": status.value}
        assert dispute.status is status
    else:
        assert DISPUTE.next(status, outcome) is DisputeStatus(expected)


def test_each_outcome_is_also_the_order_s_step():
    assert {o.value: o.order_action.value for o in Outcome} == {
        "dismiss": "dismiss_dispute",
        "uphold_partial": "uphold_partial",
        "uphold_full": "uphold_full",
    }
