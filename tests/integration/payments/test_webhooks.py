"""Stripe webhooks through the HTTP endpoint: signed with Stripe's own scheme (the SDK's
``WebhookSignature``), delivered repeatedly and out of order, forged and stale."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from marketplace.db import commit
from marketplace.notifications.models import OutboundEmail
from marketplace.payments import services
from marketplace.payments.enums import PaymentStatus, RefundStatus, WebhookOutcome
from marketplace.payments.models import Payment, PaymentRefund, WebhookEvent
from marketplace.payments.stripe_gateway import StripeGateway
from tests.conftest import rows
from tests.support.payment_fixtures import stripe_event, unique_reference


@pytest.fixture
def opened(session, stripe_ctx, create_user):
    """A Stripe payment opened at localstripe (PaymentIntent id stored), with a payer."""
    payer = create_user()
    payment = services.start_payment(
        session, unique_reference(), 30_000, description="自付 co-payment", payer_id=payer.id
    )
    commit(session)
    session.refresh(payment)
    assert payment.external_id
    return payment


def _events(session, payment):
    return rows(session, WebhookEvent, WebhookEvent.payment_id == payment.id)


def test_the_same_event_three_times_has_one_effect(session, opened, dashboard, webhooks, heard):
    dashboard.pay(opened.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(opened.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]

    responses = [webhooks.deliver(succeeded) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json["duplicate"] for r in responses] == [False, True, True]
    assert responses[0].json["outcome"] == "applied"
    session.expire_all()
    assert opened.status is PaymentStatus.SUCCEEDED
    [row] = _events(session, opened)
    assert (row.event_id, row.outcome) == (succeeded["id"], WebhookOutcome.APPLIED)
    assert heard.kinds(opened.id) == ["succeeded"]
    receipts = rows(session, OutboundEmail, OutboundEmail.user_id == opened.payer_id)
    assert [m.template for m in receipts] == ["payment_received"]


def test_out_of_order_status_events_end_succeeded(session, opened, dashboard, webhooks, heard):
    dashboard.pay(opened.external_id)
    intent = dashboard.intent(opened.external_id)
    t0 = int(time.time()) - 60
    processing = stripe_event(
        "payment_intent.processing", {**intent, "status": "processing"}, created=t0
    )
    failed = stripe_event(
        "payment_intent.payment_failed",
        {
            **intent,
            "status": "requires_payment_method",
            "last_payment_error": {"message": "declined"},
        },
        created=t0 + 10,
    )
    succeeded = stripe_event("payment_intent.succeeded", intent, created=t0 + 20)

    # Stripe's order: processing, failed, (payer retries) succeeded. Delivered backwards and
    # with repeats, the result must be the same.
    for event in (succeeded, failed, processing, failed, succeeded, processing):
        assert webhooks.deliver(event).status_code == 200

    session.expire_all()
    assert opened.status is PaymentStatus.SUCCEEDED
    assert heard.kinds(opened.id) == ["succeeded"]
    outcomes = {e.event_type: e.outcome for e in _events(session, opened)}
    assert outcomes == {
        "payment_intent.succeeded": WebhookOutcome.APPLIED,
        "payment_intent.payment_failed": WebhookOutcome.IGNORED,
        "payment_intent.processing": WebhookOutcome.IGNORED,
    }
    assert len(_events(session, opened)) == 3


def test_in_order_a_failure_then_a_retry_that_succeeds(session, opened, dashboard, webhooks, heard):
    intent = dashboard.intent(opened.external_id)
    failed = stripe_event(
        "payment_intent.payment_failed",
        {**intent, "last_payment_error": {"message": "Your card was declined."}},
    )
    webhooks.deliver(stripe_event("payment_intent.processing", {**intent, "status": "processing"}))
    session.expire_all()
    assert opened.status is PaymentStatus.PROCESSING
    webhooks.deliver(failed)
    session.expire_all()
    assert opened.status is PaymentStatus.FAILED
    assert opened.failure_message == "Your card was declined."
    webhooks.deliver(stripe_event("payment_intent.succeeded", {**intent, "status": "succeeded"}))
    webhooks.deliver(failed)  # a late copy of the failure changes nothing
    session.expire_all()
    assert opened.status is PaymentStatus.SUCCEEDED
    assert heard.kinds(opened.id) == ["failed", "succeeded"]


def test_refund_events_accumulate_in_any_order(session, opened, dashboard, webhooks, heard):
    dashboard.pay(opened.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(opened.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]
    webhooks.deliver(succeeded)
    # Two refunds made in the Stripe dashboard; localstripe sends no refund events, so we
    # wrap its real refund objects in the events Stripe would send.
    r1 = dashboard.refund(opened.external_id, 10_000)
    r2 = dashboard.refund(opened.external_id, 5_000)
    charge = dashboard.intent(opened.external_id)["latest_charge"]
    charge_refunded = stripe_event(
        "charge.refunded",
        {**charge, "amount_refunded": 15_000, "refunds": {"object": "list", "data": [r1, r2]}},
    )
    events = [
        stripe_event("refund.updated", r2),
        stripe_event("refund.created", {**r1, "status": "pending"}),
        charge_refunded,
        stripe_event("refund.created", r1),
        stripe_event("refund.updated", r2),
        charge_refunded,
    ]
    for event in events:
        assert webhooks.deliver(event).status_code == 200

    session.expire_all()
    assert opened.refunded_fen == 15_000
    refunds = rows(session, PaymentRefund, PaymentRefund.payment_id == opened.id)
    assert sorted((r.external_id, r.amount_fen, r.status) for r in refunds) == sorted(
        [(r1["id"], 10_000, RefundStatus.SUCCEEDED), (r2["id"], 5_000, RefundStatus.SUCCEEDED)]
    )
    assert heard.kinds(opened.id) == ["succeeded", "refunded", "refunded"]
    assert len(_events(session, opened)) == 6  # every distinct event id recorded once


def test_refund_event_for_our_own_refund_matches_its_row(
    session, opened, dashboard, webhooks, finance, stripe_keys, local_stripe
):
    dashboard.pay(opened.external_id)
    services.sync_from_gateway(session, opened.id)
    ours = services.refund(session, opened.id, amount_fen=7_000, reason="退款", actor_id=finance.id)
    session.flush()
    # The webhook outruns our own bookkeeping: Stripe refunded (key refund-<id>, metadata
    # refund_id) but the job that stores the answer has not run yet.
    gateway = StripeGateway(api_key=stripe_keys.secret_key, api_base=local_stripe.url)
    made = gateway.create_refund(
        payment_external_id=opened.external_id,
        refund_id=ours.id,
        amount_fen=7_000,
        idempotency_key=f"refund-{ours.id}",
    )
    refund_object = dashboard.client.v1.refunds.retrieve(made.external_id).to_dict()
    webhooks.deliver(stripe_event("refund.created", refund_object))
    commit(session)  # now the job runs: same key, Stripe answers with the same refund

    session.expire_all()
    refunds = rows(session, PaymentRefund, PaymentRefund.payment_id == opened.id)
    assert [(r.id, r.external_id, r.status) for r in refunds] == [
        (ours.id, made.external_id, RefundStatus.SUCCEEDED)
    ]
    assert opened.refunded_fen == 7_000
    assert (
        len(dashboard.client.v1.refunds.list(params={"payment_intent": opened.external_id}).data)
        == 1
    )


def test_an_event_adopts_an_intent_whose_id_we_never_stored(
    session, stripe_ctx, dashboard, webhooks, stripe_keys, local_stripe
):
    payment = services.start_payment(session, unique_reference(), 9_900, description="x")
    session.flush()
    # The process died after Stripe created the intent and before we stored its id.
    gateway = StripeGateway(api_key=stripe_keys.secret_key, api_base=local_stripe.url)
    intent = gateway.create_intent(
        payment_id=payment.id,
        reference=payment.reference,
        amount_fen=9_900,
        currency="CNY",
        idempotency_key=f"payment-{payment.id}-create",
    )
    dashboard.pay(intent.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(intent.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]
    assert webhooks.deliver(succeeded).json["outcome"] == "applied"
    session.expire_all()
    assert (payment.external_id, payment.status) == (intent.external_id, PaymentStatus.SUCCEEDED)


def test_an_intent_for_another_amount_is_never_applied(session, opened, dashboard, webhooks):
    intent = dashboard.intent(opened.external_id)
    forged_amount = stripe_event(
        "payment_intent.succeeded", {**intent, "amount": 1, "status": "succeeded"}
    )
    assert webhooks.deliver(forged_amount).json["outcome"] == "ignored"
    session.expire_all()
    assert opened.status is PaymentStatus.PENDING


def test_events_for_unknown_payments_are_acknowledged_and_ignored(session, stripe_ctx, webhooks):
    event = stripe_event(
        "payment_intent.succeeded",
        {
            "id": "pi_elsewhere",
            "object": "payment_intent",
            "amount": 5,
            "currency": "cny",
            "status": "succeeded",
            "metadata": {},
        },
    )
    response = webhooks.deliver(event)
    assert response.status_code == 200 and response.json["outcome"] == "ignored"
    [row] = rows(session, WebhookEvent, WebhookEvent.event_id == event["id"])
    assert row.payment_id is None and row.note


def _refused(session, opened, response) -> None:
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid_webhook"
    session.expire_all()
    assert opened.status is PaymentStatus.PENDING
    assert _events(session, opened) == []


def test_forged_signature_is_refused(session, opened, dashboard, webhooks):
    event = stripe_event(
        "payment_intent.succeeded", {**dashboard.intent(opened.external_id), "status": "succeeded"}
    )
    _refused(session, opened, webhooks.deliver(event, secret="whsec_someone_else"))


def test_stale_and_future_timestamps_are_refused(session, opened, dashboard, webhooks):
    event = stripe_event(
        "payment_intent.succeeded", {**dashboard.intent(opened.external_id), "status": "succeeded"}
    )
    _refused(session, opened, webhooks.deliver(event, timestamp=int(time.time()) - 301))
    _refused(session, opened, webhooks.deliver(event, timestamp=int(time.time()) + 301))


def test_missing_malformed_or_replayed_onto_another_body(session, opened, dashboard, webhooks):
    event = stripe_event(
        "payment_intent.succeeded", {**dashboard.intent(opened.external_id), "status": "succeeded"}
    )
    _refused(session, opened, webhooks.client.post("/payments/webhooks/stripe", json=event))
    _refused(session, opened, webhooks.deliver(event, header="t=abc,v1="))
    # A genuine signature of one body attached to another body.
    import json

    import stripe

    other = stripe.WebhookSignature.generate_signature_header(
        json.dumps({"id": "evt_x"}), webhooks.secret
    )
    _refused(session, opened, webhooks.deliver(event, header=other))


def test_the_endpoint_needs_stripe_configured(client):
    response = client.post("/payments/webhooks/stripe", data=b"{}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_the_endpoint_is_csrf_exempt_and_sessionless(
    make_app, local_stripe, stripe_keys, session, create_user
):
    from tests.support.payment_fixtures import stripe_config

    app = make_app(WTF_CSRF_ENABLED=True, **stripe_config(local_stripe, stripe_keys))
    with app.app_context():
        payment = services.start_payment(session, unique_reference(), 100, description="x")
    session.flush()
    client = app.test_client()
    import json

    import stripe

    event = stripe_event(
        "payment_intent.canceled",
        {
            "id": "pi_unknown_yet",
            "object": "payment_intent",
            "amount": 100,
            "currency": "cny",
            "status": "canceled",
            "metadata": {"payment_id": str(payment.id), "reference": payment.reference},
        },
    )
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, stripe_keys.webhook_secret)
    response = client.post(
        "/payments/webhooks/stripe", data=payload, headers={"Stripe-Signature": header}
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    session.expire_all()
    assert payment.status is PaymentStatus.CANCELED
    assert (
        session.scalar(sa.select(Payment.external_id).where(Payment.id == payment.id))
        == "pi_unknown_yet"
    )


def test_concurrent_deliveries_of_one_event_apply_once(
    database, local_stripe, stripe_keys, dashboard, tmp_path, heard
):
    """Real commits, one connection per delivery: the unique event id decides."""
    import threading

    from marketplace import create_app
    from marketplace.db import unit_of_work
    from tests.conftest import app_config
    from tests.support.payment_fixtures import WebhookSender, stripe_config

    app = create_app(
        app_config(
            database.fresh("webhook_race"), tmp_path, **stripe_config(local_stripe, stripe_keys)
        )
    )
    try:
        with app.app_context(), unit_of_work() as s:
            payment_id = services.start_payment(s, unique_reference(), 1_500, description="race").id
        with app.app_context(), unit_of_work() as s:
            external_id = s.get(Payment, payment_id).external_id
        dashboard.pay(external_id)
        [succeeded] = [
            e for e in dashboard.events_for(external_id) if e["type"] == "payment_intent.succeeded"
        ]
        barrier = threading.Barrier(4)
        statuses: list[int] = []

        def deliver() -> None:
            sender = WebhookSender(app.test_client(), stripe_keys.webhook_secret)
            barrier.wait(10)
            statuses.append(sender.deliver(succeeded).status_code)

        threads = [threading.Thread(target=deliver) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert statuses == [200, 200, 200, 200]
        with app.app_context(), unit_of_work() as s:
            assert s.get(Payment, payment_id).status is PaymentStatus.SUCCEEDED
            assert len(rows(s, WebhookEvent, WebhookEvent.event_id == succeeded["id"])) == 1
        assert heard.kinds(payment_id) == ["succeeded"]
    finally:
        app.extensions["db"].engine.dispose()


def test_a_refund_event_before_the_success_event_is_not_lost(
    session, opened, dashboard, webhooks, heard
):
    dashboard.pay(opened.external_id)
    refund = dashboard.refund(opened.external_id, 12_000)
    [succeeded] = [
        e
        for e in dashboard.events_for(opened.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]

    early = webhooks.deliver(stripe_event("refund.created", refund))
    assert early.json["outcome"] == "ignored"  # … but a sync with Stripe ran after the commit
    session.expire_all()
    assert (opened.status, opened.refunded_fen) == (PaymentStatus.SUCCEEDED, 12_000)

    assert webhooks.deliver(succeeded).json["outcome"] == "ignored"  # already known
    assert heard.kinds(opened.id) == ["succeeded", "refunded"]


def test_a_refund_returned_by_the_bank_is_taken_back(session, opened, dashboard, webhooks, heard):
    dashboard.pay(opened.external_id)
    services.sync_from_gateway(session, opened.id)
    refund = dashboard.refund(opened.external_id, 9_000)
    webhooks.deliver(stripe_event("refund.created", refund))
    session.expire_all()
    assert opened.refunded_fen == 9_000

    # Stripe: a refund can move from succeeded to failed when the card issuer returns it.
    failed = {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    webhooks.deliver(stripe_event("refund.failed", failed))
    webhooks.deliver(stripe_event("refund.updated", refund))  # a stale "succeeded" copy

    session.expire_all()
    assert opened.refunded_fen == 0
    [row] = rows(session, PaymentRefund, PaymentRefund.payment_id == opened.id)
    assert (row.status, row.failure_message) == (RefundStatus.FAILED, "expired_or_canceled_card")
    assert heard.kinds(opened.id) == ["succeeded", "refunded", "refund_failed"]
