"""StripeGateway against a real Stripe-compatible server (localstripe on loopback)."""

from __future__ import annotations

import pytest

from marketplace.config import Settings
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.errors import GatewayError, GatewayNotConfigured, GatewayUnavailable
from marketplace.payments.gateway import PaymentGateway, gateway_for
from marketplace.payments.offline import OfflineGateway
from marketplace.payments.stripe_gateway import StripeGateway
from tests.support.payment_fixtures import free_port, unique_reference


@pytest.fixture
def gateway(local_stripe, stripe_keys) -> StripeGateway:
    return StripeGateway(
        api_key=stripe_keys.secret_key,
        api_base=local_stripe.url,
        webhook_secret=stripe_keys.webhook_secret,
    )


def _open(gateway: StripeGateway, payment_id: int, reference: str, amount: int = 12_345):
    return gateway.create_intent(
        payment_id=payment_id,
        reference=reference,
        amount_fen=amount,
        currency="CNY",
        idempotency_key=f"payment-{payment_id}-create",
    )


def test_both_implementations_satisfy_the_protocol(gateway):
    assert isinstance(gateway, PaymentGateway)
    assert isinstance(OfflineGateway(), PaymentGateway)


def test_create_intent_in_cny_fen_with_our_metadata_and_key(gateway, local_stripe, dashboard):
    reference = unique_reference()
    intent = _open(gateway, 7, reference)

    assert intent.external_id and intent.external_id.startswith("pi_")
    assert (intent.amount_fen, intent.currency, intent.status) == (
        12_345,
        "CNY",
        PaymentStatus.PENDING,
    )
    assert (intent.payment_id, intent.reference) == (7, reference)
    assert intent.client_secret
    at_stripe = dashboard.intent(intent.external_id)
    assert (at_stripe["amount"], at_stripe["currency"]) == (12_345, "cny")
    [post] = [
        r
        for r in local_stripe.posts("/v1/payment_intents")
        if r.api_key == dashboard.keys.secret_key
    ]
    assert post.idempotency_key == "payment-7-create"


def test_same_key_returns_the_same_intent_and_other_keys_do_not(gateway, dashboard):
    reference = unique_reference()
    first = _open(gateway, 8, reference)
    again = _open(gateway, 8, reference)
    assert again.external_id == first.external_id
    assert len(dashboard.intents_for(reference)) == 1

    # The count is sensitive: a call with another key (the SDK's random retry key would be
    # one) really makes a second PaymentIntent.
    gateway.create_intent(
        payment_id=8,
        reference=reference,
        amount_fen=12_345,
        currency="CNY",
        idempotency_key="a-random-retry-key",
    )
    assert len(dashboard.intents_for(reference)) == 2


def test_reusing_a_key_with_other_parameters_is_refused(gateway):
    reference = unique_reference()
    _open(gateway, 9, reference, amount=100)
    with pytest.raises(GatewayError) as caught:
        _open(gateway, 9, reference, amount=200)
    assert "same parameters" in caught.value.message


def test_paid_and_declined_intents_read_back(gateway, dashboard):
    paid = _open(gateway, 10, unique_reference())
    dashboard.pay(paid.external_id)
    assert gateway.retrieve_intent(paid.external_id).status is PaymentStatus.SUCCEEDED

    declined = _open(gateway, 11, unique_reference())
    dashboard.decline(declined.external_id)
    read = gateway.retrieve_intent(declined.external_id)
    assert read.status is PaymentStatus.FAILED
    assert read.failure_message == "Your card was declined."


def test_partial_then_full_refund_and_never_above_the_charge(gateway, dashboard, local_stripe):
    intent = _open(gateway, 12, unique_reference(), amount=10_000)
    dashboard.pay(intent.external_id)

    first = gateway.create_refund(
        payment_external_id=intent.external_id,
        refund_id=1,
        amount_fen=3_000,
        idempotency_key="refund-1",
    )
    assert (first.status, first.amount_fen, first.refund_id) == (RefundStatus.SUCCEEDED, 3_000, 1)
    with pytest.raises(GatewayError) as too_much:
        gateway.create_refund(
            payment_external_id=intent.external_id,
            refund_id=2,
            amount_fen=7_001,
            idempotency_key="refund-2",
        )
    assert "greater than unrefunded amount" in too_much.value.message
    rest = gateway.create_refund(
        payment_external_id=intent.external_id,
        refund_id=3,
        amount_fen=7_000,
        idempotency_key="refund-3",
    )
    assert rest.status is RefundStatus.SUCCEEDED
    with pytest.raises(GatewayError) as again:
        gateway.create_refund(
            payment_external_id=intent.external_id,
            refund_id=4,
            amount_fen=1,
            idempotency_key="refund-4",
        )
    assert again.value.extra == {"gateway_code": "charge_already_refunded"}

    # A repeated refund call (same key) is answered from the first result, not refunded twice.
    replay = gateway.create_refund(
        payment_external_id=intent.external_id,
        refund_id=1,
        amount_fen=3_000,
        idempotency_key="refund-1",
    )
    assert replay.external_id == first.external_id
    listed = gateway.list_refunds(intent.external_id)
    assert sorted(r.amount_fen for r in listed) == [3_000, 7_000]
    assert {r.external_id for r in listed} == {first.external_id, rest.external_id}


def test_an_unpaid_intent_cannot_be_refunded(gateway):
    intent = _open(gateway, 13, unique_reference())
    with pytest.raises(GatewayError) as caught:
        gateway.create_refund(
            payment_external_id=intent.external_id,
            refund_id=5,
            amount_fen=1,
            idempotency_key="refund-5",
        )
    assert "does not have a successful charge" in caught.value.message


def test_cancel_an_unpaid_intent_but_not_a_paid_one(gateway, dashboard):
    unpaid = _open(gateway, 14, unique_reference())
    canceled = gateway.cancel_intent(unpaid.external_id, idempotency_key="payment-14-cancel")
    assert canceled.status is PaymentStatus.CANCELED

    paid = _open(gateway, 15, unique_reference())
    dashboard.pay(paid.external_id)
    with pytest.raises(GatewayError):
        gateway.cancel_intent(paid.external_id, idempotency_key="payment-15-cancel")
    assert gateway.retrieve_intent(paid.external_id).status is PaymentStatus.SUCCEEDED


def test_find_intent_by_our_metadata(gateway):
    reference = unique_reference()
    assert gateway.find_intent(payment_id=16, reference=reference) is None
    opened = _open(gateway, 16, reference)
    found = gateway.find_intent(payment_id=16, reference=reference)
    assert found is not None and found.external_id == opened.external_id
    assert gateway.find_intent(payment_id=17, reference=reference) is None


def test_unreachable_gateway_is_retryable(stripe_keys):
    closed = StripeGateway(
        api_key=stripe_keys.secret_key, api_base=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(GatewayUnavailable):
        closed.retrieve_intent("pi_anything")


def test_unknown_intent_is_a_definitive_refusal(gateway):
    with pytest.raises(GatewayError) as caught:
        gateway.retrieve_intent("pi_doesnotexist")
    assert not isinstance(caught.value, GatewayUnavailable)


def test_factory_chooses_by_kind_and_needs_stripe_keys(tmp_path):
    base = {"MARKETPLACE_ENV": "testing", "INSTANCE_DIR": str(tmp_path)}
    offline = Settings.from_env(base)
    assert isinstance(gateway_for(GatewayKind.OFFLINE, offline), OfflineGateway)
    with pytest.raises(GatewayNotConfigured):
        gateway_for(GatewayKind.STRIPE, offline)
    configured = Settings.from_env(
        {
            **base,
            "PAYMENT_GATEWAY": "stripe",
            "STRIPE_SECRET_KEY": "sk_test_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "STRIPE_API_BASE": "http://127.0.0.1:9",
        }
    )
    stripe_gateway = gateway_for(configured.payment_gateway, configured)
    assert isinstance(stripe_gateway, StripeGateway)
    assert stripe_gateway.webhook_secret == "whsec_x"
