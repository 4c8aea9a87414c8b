"""A card co-payment charged back: the claim's co-payment rule fails while the chargeback is
open or lost, so the treasury never pays the voucher part of a service the SME paid nothing
for; a won chargeback restores it. Both databases.

The order is paid by card at localstripe and recorded from Stripe's real success event; the
chargeback events are hand-built around the real charge (localstripe has no disputes) and
signed with Stripe's scheme, as in ``tests/integration/payments/test_chargebacks.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.clock import local_date
from marketplace.db import commit
from marketplace.errors import DomainError
from marketplace.notifications.models import OutboundEmail
from marketplace.orders import delivery, services
from marketplace.orders.enums import OrderStatus
from marketplace.orders.models import Order
from marketplace.payments import services as payments
from marketplace.payments.enums import GatewayKind
from marketplace.payments.models import Payment
from marketplace.settlement import claims, rules
from marketplace.settlement.enums import CheckRule, ClaimLineStatus
from tests.conftest import rows
from tests.support.payment_fixtures import stripe_event
from tests.support.settlement_fixtures import CLAIM_NOW
from tests.support.voucher_fixtures import VOUCHER_NOW


@pytest.fixture
def card_order(settlement_world, stripe_app, session, dashboard, webhooks) -> Order:
    """A confirmed order whose co-payment the SME paid by card (Stripe, at localstripe)."""
    w = settlement_world
    order = w.orders.create(OrderStatus.AGREED, app=stripe_app)
    with stripe_app.app_context():
        commit(session)  # the PaymentIntent is opened after the commit
    payment = _payment(session, order)
    assert payment.gateway is GatewayKind.STRIPE and payment.external_id
    dashboard.pay(payment.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(payment.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]
    paid_at = VOUCHER_NOW + timedelta(hours=1)
    assert webhooks.deliver({**succeeded, "created": int(paid_at.timestamp())}).status_code == 200
    session.refresh(order)
    assert order.status is OrderStatus.PAID
    w.orders.deliver(order, now=VOUCHER_NOW + timedelta(days=1))
    with w.orders.app.app_context():
        delivery.confirm(
            session, order.id, w.orders.sme(order), now=VOUCHER_NOW + timedelta(days=2)
        )
    assert order.status is OrderStatus.CONFIRMED
    return order


def _payment(session, order) -> Payment:
    payment = payments.live_payment(session, order.payment_reference)
    assert payment is not None
    session.refresh(payment)
    return payment


def _failing(session, order, line=None) -> list[tuple[str, str]]:
    """The pre-check's failing rules for ``order`` now (as part of ``line`` once claimed)."""
    session.expire_all()
    facts = claims.gather_facts(
        session, order, claim_date=local_date(CLAIM_NOW), line_id=line.id if line else None
    )
    return [(c.rule.value, c.code) for c in rules.precheck(facts) if not c.passed]


def _chargeback(session, order, dashboard, webhooks, status="needs_response", **kwargs):
    payment = _payment(session, order)
    dispute = dashboard.dispute(payment.external_id, status=status, **kwargs)
    kind = "charge.dispute.closed" if status in ("won", "lost") else "charge.dispute.created"
    assert webhooks.deliver(stripe_event(kind, dispute)).json["outcome"] == "applied"
    return dispute


CO_PAYMENT_FAILS = [(CheckRule.CO_PAYMENT.value, "co_payment_not_received")]


def test_an_open_chargeback_fails_the_co_payment_rule_until_it_is_won(
    settlement_world, session, card_order, dashboard, webhooks
):
    w = settlement_world
    assert _failing(session, card_order) == []
    finance = w.finance

    dispute = _chargeback(session, card_order, dashboard, webhooks)
    assert _failing(session, card_order) == CO_PAYMENT_FAILS
    # The order still shows what happened (paid, delivered, confirmed); the money is contested.
    assert card_order.status is OrderStatus.CONFIRMED
    [told] = rows(session, OutboundEmail, OutboundEmail.user_id == finance.id)
    assert told.template == "payment_disputed"

    claim = w.claim(card_order)
    [line] = claim.lines
    assert [c["rule"] for c in line.failed_checks] == [CheckRule.CO_PAYMENT.value]
    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == "co_payment_not_received"

    won = dashboard.move_dispute(dispute, "won")
    webhooks.deliver(stripe_event("charge.dispute.closed", won))
    assert _failing(session, card_order, line) == []
    w.review(claim)  # approval re-runs the pre-check on fresh data: it passes now
    assert line.status is ClaimLineStatus.REVIEWED


def test_a_chargeback_lost_after_review_stops_finance_approval(
    settlement_world, session, card_order, dashboard, webhooks
):
    w = settlement_world
    claim = w.claim(card_order)
    w.review(claim)
    [line] = claim.lines
    assert line.status is ClaimLineStatus.REVIEWED

    _chargeback(session, card_order, dashboard, webhooks, status="lost")
    assert _failing(session, card_order, line) == CO_PAYMENT_FAILS
    with pytest.raises(DomainError) as caught:
        w.finance_decide(claim)
    assert caught.value.code == "co_payment_not_received"
    session.refresh(line)
    assert line.status is ClaimLineStatus.REVIEWED  # nothing approved for payment


def test_a_partial_chargeback_also_fails_the_rule(
    settlement_world, session, card_order, dashboard, webhooks
):
    _chargeback(session, card_order, dashboard, webhooks, amount_fen=1)
    assert _failing(session, card_order) == CO_PAYMENT_FAILS


def test_a_cancellation_never_refunds_what_a_chargeback_already_returned(
    settlement_world, stripe_app, session, dashboard, webhooks
):
    """Paid by card, charged back and lost, then cancelled: nothing more is owed back."""
    w = settlement_world
    order = w.orders.create(OrderStatus.AGREED, app=stripe_app)
    with stripe_app.app_context():
        commit(session)
    payment = _payment(session, order)
    dashboard.pay(payment.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(payment.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]
    webhooks.deliver(succeeded)
    _chargeback(session, order, dashboard, webhooks, status="lost")
    with stripe_app.app_context():
        services.cancel(session, order.id, w.orders.sme(order), reason="计划有变")
    assert order.refund_due_fen == 0
    assert payments.refundable_fen(session, _payment(session, order)) == 0
