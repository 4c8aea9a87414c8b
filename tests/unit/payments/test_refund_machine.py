"""The refund machine, tested as a table over every (status, news) pair."""

import itertools
from types import SimpleNamespace

import pytest

from marketplace.payments.enums import RefundNews, RefundStatus
from marketplace.payments.rules import REFUND
from marketplace.statemachine import IllegalMove

#: The whole expected table, written out independently of REFUND; a missing pair is stale
#: news. A succeeded refund fails when the bank returns the transfer; a failed one is final.
EXPECTED = {
    "pending": {"succeeded": "succeeded", "failed": "failed"},
    "succeeded": {"failed": "failed"},
    "failed": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in RefundStatus}
    assert REFUND.states == set(RefundStatus)


@pytest.mark.parametrize(
    ("status", "news"), list(itertools.product(RefundStatus, RefundNews)), ids=str
)
def test_every_status_news_pair(status, news):
    expected = EXPECTED[status.value].get(news.value)
    refund = SimpleNamespace(status=status)
    if expected is None:
        assert not REFUND.allows(status, news)  # stale: the services ignore it
        with pytest.raises(IllegalMove):
            REFUND.move(refund, news)
        assert refund.status is status
    else:
        assert REFUND.allows(status, news)
        assert REFUND.move(refund, news) == (status, RefundStatus(expected))
        assert refund.status is RefundStatus(expected)


@pytest.mark.parametrize("status", list(RefundStatus), ids=str)
def test_the_gateway_can_report_every_status_as_news(status):
    assert RefundNews.reporting(status).value == status.value
