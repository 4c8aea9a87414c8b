"""The payment machine, tested as a table over every (status, news) pair."""

import itertools
from types import SimpleNamespace

import pytest

from marketplace.payments.enums import PaymentNews, PaymentStatus
from marketplace.payments.rules import PAYMENT
from marketplace.statemachine import IllegalMove

#: The whole expected table, written out independently of PAYMENT: the status only moves up
#: pending < processing < failed < succeeded = canceled; a missing pair is stale news.
EXPECTED = {
    "pending": {
        "processing": "processing",
        "failed": "failed",
        "succeeded": "succeeded",
        "canceled": "canceled",
    },
    "processing": {"failed": "failed", "succeeded": "succeeded", "canceled": "canceled"},
    "failed": {"succeeded": "succeeded", "canceled": "canceled"},
    "succeeded": {},
    "canceled": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in PaymentStatus}
    assert PAYMENT.states == set(PaymentStatus)


@pytest.mark.parametrize(
    ("status", "news"), list(itertools.product(PaymentStatus, PaymentNews)), ids=str
)
def test_every_status_news_pair(status, news):
    expected = EXPECTED[status.value].get(news.value)
    payment = SimpleNamespace(status=status)
    if expected is None:
        assert not PAYMENT.allows(status, news)  # stale: the services ignore it
        with pytest.raises(IllegalMove):
            PAYMENT.move(payment, news)
        assert payment.status is status
    else:
        assert PAYMENT.allows(status, news)
        assert PAYMENT.move(payment, news) == (status, PaymentStatus(expected))
        assert payment.status is PaymentStatus(expected)


@pytest.mark.parametrize("status", list(PaymentStatus), ids=str)
def test_the_gateway_can_report_every_status_as_news(status):
    assert PaymentNews.reporting(status).value == status.value
