"""Payment services with the Stripe gateway, against localstripe, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from marketplace.audit.models import AuditEvent
from marketplace.db import commit, rollback
from marketplace.errors import PreconditionFailed
from marketplace.notifications.models import OutboundEmail
from marketplace.payments import services
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.errors import (
    GatewayError,
    InvalidPayment,
    PaymentExists,
    PaymentStateError,
    RefundNotAllowed,
)
from marketplace.payments.models import Payment, PaymentRefund
from tests.conftest import rows
from tests.support.payment_fixtures import unique_reference


def _start(session, amount=20_000, payer=None, reference=None):
    return services.start_payment(
        session,
        reference or unique_reference(),
        amount,
        description="订单自付部分 co-payment",
        payer_id=payer.id if payer else None,
    )


def _keyed(local_stripe, dashboard, key):
    return [
        r
        for r in local_stripe.posts()
        if r.api_key == dashboard.keys.secret_key and r.idempotency_key == key
    ]


def test_the_intent_is_opened_only_after_the_commit(session, stripe_ctx, local_stripe, dashboard):
    payment = _start(session)
    assert payment.gateway is GatewayKind.STRIPE
    assert payment.external_id is None
    key = f"payment-{payment.id}-create"
    assert _keyed(local_stripe, dashboard, key) == []
    assert dashboard.intents_for(payment.reference) == []

    commit(session)  # the unit of work commits; the queued job runs (inline: no REDIS_URL)

    session.refresh(payment)
    [intent] = dashboard.intents_for(payment.reference)
    assert payment.external_id == intent["id"]
    assert intent["metadata"] == {"payment_id": str(payment.id), "reference": payment.reference}
    assert (intent["amount"], intent["currency"]) == (20_000, "cny")
    assert len(_keyed(local_stripe, dashboard, key)) == 1


def test_a_rolled_back_payment_never_reaches_stripe(session, stripe_ctx, dashboard):
    reference = unique_reference()
    _start(session, reference=reference)
    rollback(session)
    commit(session)  # nothing queued survives the rollback
    assert dashboard.intents_for(reference) == []
    assert rows(session, Payment, Payment.reference == reference) == []


def test_start_is_idempotent_per_reference_and_validates(session, stripe_ctx):
    payment = _start(session, amount=5_000)
    assert _start(session, amount=5_000, reference=payment.reference).id == payment.id
    with pytest.raises(PaymentExists) as caught:
        _start(session, amount=6_000, reference=payment.reference)
    assert caught.value.extra == {"payment_id": payment.id}
    with pytest.raises(InvalidPayment) as bad_ref:
        _start(session, reference="order 42")
    assert bad_ref.value.field == "reference"
    for amount in (0, -5, 10.5, True):
        with pytest.raises(InvalidPayment):
            _start(session, amount=amount)


def test_the_database_allows_one_live_payment_per_reference(session, create_payment):
    first = create_payment(reference="order:unique-1")
    with pytest.raises(IntegrityError), session.begin_nested():
        create_payment(reference="order:unique-1")
    first.status = PaymentStatus.CANCELED
    session.flush()
    assert create_payment(reference="order:unique-1").id != first.id


def test_checkout_opens_synchronously_once(session, stripe_ctx, dashboard):
    payment = _start(session)
    details = services.checkout(session, payment.id)  # before the job ran
    again = services.checkout(session, payment.id)
    assert details.client_secret and details.client_secret.startswith(details.external_id)
    assert again.external_id == details.external_id
    commit(session)  # the after-commit job finds the id stored and calls nothing
    assert len(dashboard.intents_for(payment.reference)) == 1


def test_sync_records_success_once_with_listener_and_receipt(
    session, stripe_ctx, dashboard, create_user, heard
):
    payer = create_user()
    payment = _start(session, payer=payer, reference=unique_reference())
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)

    services.sync_from_gateway(session, payment.id)
    services.sync_from_gateway(session, payment.id)

    assert payment.status is PaymentStatus.SUCCEEDED and payment.succeeded_at is not None
    assert heard.kinds(payment.id) == ["succeeded"]
    [receipt] = rows(session, OutboundEmail, OutboundEmail.user_id == payer.id)
    assert receipt.template == "payment_received"
    assert "¥200.00" in receipt.subject
    actions = [e.action for e in rows(session, AuditEvent, AuditEvent.subject_id == payment.id)]
    assert actions == ["payment.started", "payment.opened", "payment.succeeded"]


def test_a_declined_card_fails_the_payment(session, stripe_ctx, dashboard, heard, create_user):
    payer = create_user()
    payment = _start(session, payer=payer, reference=unique_reference())
    commit(session)
    session.refresh(payment)
    dashboard.decline(payment.external_id)
    services.sync_from_gateway(session, payment.id)
    services.sync_from_gateway(session, payment.id)
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_message == "Your card was declined."
    assert heard.kinds(payment.id) == ["failed"]
    [mail] = rows(session, OutboundEmail, OutboundEmail.user_id == payer.id)
    assert mail.template == "payment_failed" and "Your card was declined." in mail.body
    # localstripe cannot confirm a failed PaymentIntent again with another card (real Stripe
    # can); failed → succeeded is proven with signed events in test_webhooks.py.


def _paid(session, dashboard, amount=10_000, payer=None):
    payment = _start(session, amount=amount, payer=payer, reference=unique_reference())
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)
    services.sync_from_gateway(session, payment.id)
    return payment


def test_partial_and_full_refunds_never_above_what_was_paid(
    session, stripe_ctx, dashboard, local_stripe, heard, create_user, finance
):
    payer = create_user()
    payment = _paid(session, dashboard, amount=10_000, payer=payer)

    first = services.refund(
        session, payment.id, amount_fen=4_000, reason="部分退款", actor_id=finance.id
    )
    assert first.status is RefundStatus.PENDING
    # The pending refund reserves its amount: nothing above the rest can be asked meanwhile.
    with pytest.raises(RefundNotAllowed):
        services.refund(session, payment.id, amount_fen=6_001, reason="x", actor_id=finance.id)
    commit(session)  # the Stripe refund runs after the commit, key refund-<id>

    session.refresh(first)
    session.refresh(payment)
    assert first.status is RefundStatus.SUCCEEDED and first.external_id.startswith("re_")
    assert payment.refunded_fen == 4_000
    assert len(_keyed(local_stripe, dashboard, f"refund-{first.id}")) == 1

    second = services.refund(
        session, payment.id, amount_fen=6_000, reason="全部退款", actor_id=finance.id
    )
    commit(session)
    session.refresh(second)
    session.refresh(payment)
    assert second.status is RefundStatus.SUCCEEDED
    assert payment.refunded_fen == 10_000
    with pytest.raises(RefundNotAllowed):
        services.refund(session, payment.id, amount_fen=1, reason="x", actor_id=finance.id)
    assert heard.kinds(payment.id) == ["succeeded", "refunded", "refunded"]
    refunds = sorted(
        r["amount"]
        for r in dashboard.client.v1.refunds.list(
            params={"payment_intent": payment.external_id}
        ).to_dict()["data"]
    )
    assert refunds == [4_000, 6_000]
    templates = [
        m.template for m in rows(session, OutboundEmail, OutboundEmail.user_id == payer.id)
    ]
    assert templates == ["payment_received", "refund_issued", "refund_issued"]


def test_the_database_refuses_refunded_above_amount(session, create_payment):
    payment = create_payment(status=PaymentStatus.SUCCEEDED, amount_fen=100)
    payment.refunded_fen = 101
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()


def test_a_refund_stripe_refuses_is_marked_failed_and_frees_the_amount(
    session, stripe_ctx, dashboard, finance
):
    payment = _paid(session, dashboard, amount=10_000)
    # Someone refunded 8,000 in the Stripe dashboard; we have not heard of it yet.
    dashboard.refund(payment.external_id, 8_000)
    ours = services.refund(
        session, payment.id, amount_fen=5_000, reason="退款", actor_id=finance.id
    )
    commit(session)
    session.refresh(ours)
    assert ours.status is RefundStatus.FAILED
    assert "greater than unrefunded amount" in (ours.failure_message or "")

    services.sync_from_gateway(session, payment.id)  # discovers the dashboard refund
    session.refresh(payment)
    assert payment.refunded_fen == 8_000
    outside = [r for r in payment.refunds if r.actor_id is None]
    assert [(r.amount_fen, r.status) for r in outside] == [(8_000, RefundStatus.SUCCEEDED)]
    assert services.refundable_fen(session, payment) == 2_000


def test_cancel_unpaid_at_stripe_first(session, stripe_ctx, dashboard, heard):
    payment = _start(session, reference=unique_reference())
    commit(session)
    session.refresh(payment)
    services.cancel_payment(session, payment.id, actor_id=None, reason="订单取消")
    assert payment.status is PaymentStatus.CANCELED
    assert dashboard.intent(payment.external_id)["status"] == "canceled"
    assert heard.kinds(payment.id) == ["canceled"]
    with pytest.raises(PaymentStateError):
        services.cancel_payment(session, payment.id, actor_id=None, reason="again")
    # The reference is free again for a new payment.
    assert _start(session, reference=payment.reference).id != payment.id


def test_cancel_refused_when_stripe_was_paid_meanwhile(session, stripe_ctx, dashboard):
    payment = _start(session)
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)
    with pytest.raises(GatewayError):
        services.cancel_payment(session, payment.id, actor_id=None, reason="too late")
    assert payment.status is PaymentStatus.PENDING
    services.sync_from_gateway(session, payment.id)
    assert payment.status is PaymentStatus.SUCCEEDED


def test_refund_checks_the_version_the_caller_read(session, stripe_ctx, dashboard, finance):
    payment = _paid(session, dashboard)
    with pytest.raises(PreconditionFailed) as caught:
        services.refund(
            session,
            payment.id,
            amount_fen=1,
            reason="x",
            actor_id=finance.id,
            expected_version=payment.version - 1,
        )
    assert caught.value.extra == {"current_version": payment.version}


def test_payments_needing_sync(session, stripe_ctx, create_payment):
    from datetime import timedelta

    from marketplace.db import utcnow

    old = utcnow() - timedelta(hours=1)
    stale = create_payment(gateway=GatewayKind.STRIPE, updated_at=old, created_at=old)
    create_payment(gateway=GatewayKind.STRIPE)  # fresh: not yet
    create_payment(gateway=GatewayKind.OFFLINE, updated_at=old, created_at=old)  # no gateway
    done = create_payment(
        gateway=GatewayKind.STRIPE,
        status=PaymentStatus.SUCCEEDED,
        external_id="pi_done",
        updated_at=old,
    )
    session.add(
        PaymentRefund(
            payment_id=done.id, amount_fen=1, gateway=GatewayKind.STRIPE, reason="x", created_at=old
        )
    )
    session.flush()
    assert services.payments_needing_sync(session) == sorted([stale.id, done.id])
