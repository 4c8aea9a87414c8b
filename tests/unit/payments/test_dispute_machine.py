"""The chargeback (payment dispute) machine, tested as a table over every (status, news)
pair, and the order of Stripe's words among the open states."""

import itertools
from types import SimpleNamespace

import pytest

from marketplace.payments.enums import DisputeNews, PaymentDisputeStatus
from marketplace.payments.rules import DISPUTE, is_later_open_word
from marketplace.statemachine import IllegalMove

#: The whole expected table, written out independently of DISPUTE; a missing pair is stale
#: news. Open until decided; a final state replaces an open one and never changes again.
EXPECTED = {
    "open": {"open": "open", "won": "won", "lost": "lost", "closed": "closed"},
    "won": {},
    "lost": {},
    "closed": {},
}


def test_expected_table_covers_every_status():
    assert set(EXPECTED) == {s.value for s in PaymentDisputeStatus}
    assert DISPUTE.states == set(PaymentDisputeStatus)


@pytest.mark.parametrize(
    ("status", "news"), list(itertools.product(PaymentDisputeStatus, DisputeNews)), ids=str
)
def test_every_status_news_pair(status, news):
    expected = EXPECTED[status.value].get(news.value)
    dispute = SimpleNamespace(status=status)
    if expected is None:
        assert not DISPUTE.allows(status, news)  # stale: the services ignore it
        with pytest.raises(IllegalMove):
            DISPUTE.move(dispute, news)
        assert dispute.status is status
    else:
        assert DISPUTE.allows(status, news)
        assert DISPUTE.move(dispute, news) == (status, PaymentDisputeStatus(expected))
        assert dispute.status is PaymentDisputeStatus(expected)


@pytest.mark.parametrize("status", list(PaymentDisputeStatus), ids=str)
def test_the_gateway_can_report_every_status_as_news(status):
    assert DisputeNews.reporting(status).value == status.value


#: Stripe's open words in the order a dispute passes them (an inquiry may become a chargeback).
OPEN_WORDS = ["warning_needs_response", "warning_under_review", "needs_response", "under_review"]


@pytest.mark.parametrize("held", range(len(OPEN_WORDS)))
@pytest.mark.parametrize("news", range(len(OPEN_WORDS)))
def test_open_news_is_fresh_only_when_its_word_is_later(held, news):
    assert is_later_open_word(OPEN_WORDS[held], OPEN_WORDS[news]) is (news > held)


@pytest.mark.parametrize("word", OPEN_WORDS)
def test_an_unknown_open_word_ranks_lowest(word):
    assert is_later_open_word("a_status_stripe_adds_later", word) is True
    assert is_later_open_word(word, "a_status_stripe_adds_later") is False
