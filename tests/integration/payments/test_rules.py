"""Pure payment rules: keys, refund limit, signatures, the gateway's parsing of events.

The status precedence is tested as tables in ``tests/unit/payments``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from marketplace.payments import rules
from marketplace.payments.enums import PaymentDisputeStatus
from marketplace.payments.enums import PaymentStatus as S
from marketplace.payments.errors import InvalidWebhook
from marketplace.payments.stripe_gateway import StripeGateway, sign_payload, verify_signature


def test_keys_derive_from_our_rows():
    now = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
    assert rules.create_key(42) == "payment-42-create"
    assert rules.late_create_key(42, now) == "payment-42-create-20261122"
    assert rules.cancel_key(42) == "payment-42-cancel"
    assert rules.refund_key(7) == "refund-7"
    assert rules.within_idempotency_window(now - timedelta(hours=22, minutes=59), now)
    assert not rules.within_idempotency_window(now - timedelta(hours=23), now)


def test_refund_limit():
    assert rules.refund_problem(status=S.SUCCEEDED, refundable_fen=500, amount_fen=500) is None
    assert "exceeds" in rules.refund_problem(status=S.SUCCEEDED, refundable_fen=500, amount_fen=501)
    assert "positive" in rules.refund_problem(status=S.SUCCEEDED, refundable_fen=500, amount_fen=0)
    for status in (S.PENDING, S.PROCESSING, S.FAILED, S.CANCELED):
        assert "succeeded" in rules.refund_problem(status=status, refundable_fen=500, amount_fen=1)


SECRET = "whsec_rules"
NOW = 1_800_000_000.0


def _payload() -> bytes:
    return json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}).encode()


def test_our_signature_is_stripes():
    payload = _payload().decode()
    assert sign_payload(payload, SECRET, 1_700_000_000) == (
        stripe.WebhookSignature.generate_signature_header(payload, SECRET, timestamp=1_700_000_000)
    )


@pytest.mark.parametrize("age", [-300, 0, 299, 300])
def test_signatures_within_the_tolerance_pass(age):
    header = stripe.WebhookSignature.generate_signature_header(
        _payload().decode(), SECRET, timestamp=int(NOW - age)
    )
    verify_signature(_payload(), header, SECRET, now=NOW, tolerance=300)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_signatures_outside_the_tolerance_fail(age):
    header = stripe.WebhookSignature.generate_signature_header(
        _payload().decode(), SECRET, timestamp=int(NOW - age)
    )
    with pytest.raises(InvalidWebhook, match="tolerance"):
        verify_signature(_payload(), header, SECRET, now=NOW, tolerance=300)


def test_any_matching_v1_signature_passes_during_secret_rotation():
    good = stripe.WebhookSignature.generate_signature_header(
        _payload().decode(), SECRET, timestamp=int(NOW)
    )
    old = stripe.WebhookSignature.generate_signature_header(
        _payload().decode(), "whsec_old", timestamp=int(NOW)
    )
    both = f"{old},v1={good.split('v1=')[1]}"
    verify_signature(_payload(), both, SECRET, now=NOW, tolerance=300)


@pytest.mark.parametrize(
    "header",
    [None, "", "t=1800000000", "v1=abc", "t=x,v1=abc", "t=1800000000,v0=abc", "t=1800000000,v1=00"],
)
def test_malformed_or_wrong_signatures_fail(header):
    with pytest.raises(InvalidWebhook):
        verify_signature(_payload(), header, SECRET, now=NOW, tolerance=300)


def test_a_changed_body_fails():
    header = stripe.WebhookSignature.generate_signature_header(
        _payload().decode(), SECRET, timestamp=int(NOW)
    )
    with pytest.raises(InvalidWebhook, match="no signature matches"):
        verify_signature(_payload() + b" ", header, SECRET, now=NOW, tolerance=300)


def test_the_gateway_parses_a_verified_event():
    gateway = StripeGateway(
        api_key="sk_test_x", api_base="http://127.0.0.1:9", webhook_secret=SECRET
    )
    event = {
        "id": "evt_9",
        "type": "payment_intent.processing",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "pi_9",
                "amount": 100,
                "currency": "cny",
                "status": "processing",
                "metadata": {"payment_id": "4", "reference": "order:4"},
            }
        },
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    parsed = gateway.parse_webhook(payload.encode(), header, now=time.time())
    assert (parsed.event_id, parsed.intent.status, parsed.intent.payment_id) == (
        "evt_9",
        S.PROCESSING,
        4,
    )
    with pytest.raises(InvalidWebhook, match="not a Stripe event"):
        body = json.dumps({"id": "evt_10"})
        gateway.parse_webhook(
            body.encode(),
            stripe.WebhookSignature.generate_signature_header(body, SECRET),
            now=time.time(),
        )


# --------------------------------------------------------------------------- chargebacks

D = PaymentDisputeStatus


def _signed_event(event_type: str, obj: dict) -> tuple[bytes, str]:
    payload = json.dumps(
        {"id": "evt_d", "type": event_type, "created": 1_800_000_000, "data": {"object": obj}}
    )
    header = stripe.WebhookSignature.generate_signature_header(
        payload, SECRET, timestamp=1_800_000_000
    )
    return payload.encode(), header


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("needs_response", D.OPEN),
        ("under_review", D.OPEN),
        ("warning_needs_response", D.OPEN),
        ("warning_under_review", D.OPEN),
        ("won", D.WON),
        ("lost", D.LOST),
        ("warning_closed", D.CLOSED),
        ("prevented", D.CLOSED),
        ("a_status_stripe_adds_later", D.OPEN),  # in doubt, not counted as received
    ],
)
def test_the_gateway_parses_dispute_events(word, status):
    gateway = StripeGateway(
        api_key="sk_test_x", api_base="http://127.0.0.1:9", webhook_secret=SECRET
    )
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 1_234,
        "currency": "cny",
        "charge": {"id": "ch_1", "object": "charge"},  # expanded, as with ?expand[]=charge
        "payment_intent": "pi_1",
        "created": 1_799_999_000,
        "reason": "fraudulent",
        "status": word,
    }
    for event_type in ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"):
        payload, header = _signed_event(event_type, dispute)
        event = gateway.parse_webhook(payload, header, now=1_800_000_000)
        [found] = event.disputes
        assert (event.payment_external_id, event.intent, event.refunds) == ("pi_1", None, ())
        assert (found.external_id, found.status, found.gateway_status) == ("dp_1", status, word)
        assert (found.amount_fen, found.currency, found.charge_external_id) == (
            1_234,
            "CNY",
            "ch_1",
        )
        assert found.opened_at == datetime.fromtimestamp(1_799_999_000, UTC)
        assert found.reason == "fraudulent"
