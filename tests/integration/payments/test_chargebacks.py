"""Chargebacks (Stripe disputes) through the webhook endpoint, on both databases.

localstripe has no disputes, so the Dispute objects are built as Stripe documents them around
the real charge localstripe made (``dashboard.dispute``) and the ``charge.dispute.*`` events
carrying them are signed with Stripe's scheme, as the refund tests do with refund events. The
charge lookup for disputes that name only their charge, and the dispute list a sync reads,
are answered by the (extended) local Stripe server.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from marketplace.audit.models import AuditEvent
from marketplace.db import commit, utcnow
from marketplace.enums import Role
from marketplace.notifications.models import OutboundEmail
from marketplace.payments import services
from marketplace.payments.enums import PaymentDisputeStatus, PaymentStatus
from marketplace.payments.errors import RefundNotAllowed
from marketplace.payments.models import Payment, PaymentDispute, WebhookEvent
from tests.conftest import rows
from tests.support.payment_fixtures import stripe_event, unique_reference

AMOUNT = 30_000


@pytest.fixture
def paid(session, stripe_ctx, create_user, dashboard, webhooks):
    """A Stripe payment paid at localstripe and recorded from its real success event."""
    payer = create_user()
    payment = services.start_payment(
        session, unique_reference(), AMOUNT, description="自付 co-payment", payer_id=payer.id
    )
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(payment.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]
    assert webhooks.deliver(succeeded).json["outcome"] == "applied"
    session.expire_all()
    assert payment.status is PaymentStatus.SUCCEEDED
    return payment


@pytest.fixture
def officers(create_user):
    """Two active finance officers and an inactive one (who is not told)."""
    active = [create_user(Role.FINANCE), create_user(Role.FINANCE)]
    create_user(Role.FINANCE, is_active=False)
    return active


def _mail(session, template="payment_disputed"):
    return rows(session, OutboundEmail, OutboundEmail.template == template)


def _audit(session, payment):
    return [
        e.action
        for e in rows(session, AuditEvent, AuditEvent.subject_type == "payment")
        if e.subject_id == payment.id and "dispute" in e.action
    ]


def _outcome(response) -> str:
    assert response.status_code == 200, response.json
    return response.json["outcome"]


def test_an_open_chargeback_withholds_the_money_until_it_is_won(
    session, paid, dashboard, webhooks, officers
):
    dispute = dashboard.dispute(paid.external_id)
    t0 = int(time.time()) - 20

    created = stripe_event("charge.dispute.created", dispute, created=t0)
    assert _outcome(webhooks.deliver(created)) == "applied"
    session.expire_all()
    [row] = rows(session, PaymentDispute, PaymentDispute.payment_id == paid.id)
    assert (row.external_id, row.status, row.gateway_status, row.amount_fen, row.reason) == (
        dispute["id"],
        PaymentDisputeStatus.OPEN,
        "needs_response",
        AMOUNT,
        "fraudulent",
    )
    assert row.charge_external_id == dispute["charge"] and row.closed_at is None
    assert paid.disputed_fen == AMOUNT
    assert services.refundable_fen(session, paid) == 0 == paid.refundable_fen
    assert paid.status is PaymentStatus.SUCCEEDED  # the payment happened; the money is contested
    # Every active finance officer is told, in both languages, with the link to the payment.
    told = _mail(session)
    assert sorted(m.user_id for m in told) == sorted(u.id for u in officers)
    assert "拒付" in told[0].subject and "charged back" in told[0].subject
    assert f"/admin/payments/{paid.id}" in told[0].body

    under_review = dashboard.move_dispute(dispute, "under_review")
    webhooks.deliver(stripe_event("charge.dispute.updated", under_review, created=t0 + 5))
    session.expire_all()
    assert (row.status, row.gateway_status) == (PaymentDisputeStatus.OPEN, "under_review")
    assert len(_mail(session)) == 2  # progress of an open chargeback is audited, not mailed

    won = dashboard.move_dispute(dispute, "won")
    closed = stripe_event("charge.dispute.closed", won, created=t0 + 9)
    assert _outcome(webhooks.deliver(closed)) == "applied"
    session.expire_all()
    assert (row.status, row.gateway_status) == (PaymentDisputeStatus.WON, "won")
    assert row.closed_at is not None
    assert paid.disputed_fen == 0
    assert services.refundable_fen(session, paid) == AMOUNT
    assert len(_mail(session)) == 4
    assert _audit(session, paid) == [
        "payment.dispute_opened",
        "payment.dispute_updated",
        "payment.dispute_won",
    ]


def test_a_lost_chargeback_stays_lost_whatever_arrives_late(session, paid, dashboard, webhooks):
    dispute = dashboard.dispute(paid.external_id)
    t0 = int(time.time()) - 60
    created = stripe_event("charge.dispute.created", dispute, created=t0)
    reviewing = stripe_event(
        "charge.dispute.updated", {**dispute, "status": "under_review"}, created=t0 + 10
    )
    lost = stripe_event("charge.dispute.closed", {**dispute, "status": "lost"}, created=t0 + 20)
    won_forged_copy = stripe_event(
        "charge.dispute.updated", {**dispute, "status": "won"}, created=t0 + 30
    )

    # Backwards and with repeats: the closing news first, the stale open states after it.
    outcomes = [
        _outcome(webhooks.deliver(e)) for e in (lost, reviewing, created, lost, won_forged_copy)
    ]
    assert outcomes == ["applied", "ignored", "ignored", None, "ignored"]
    assert webhooks.sent[-2].json["duplicate"] is True

    session.expire_all()
    [row] = rows(session, PaymentDispute, PaymentDispute.payment_id == paid.id)
    assert (row.status, row.gateway_status) == (PaymentDisputeStatus.LOST, "lost")
    assert paid.disputed_fen == AMOUNT and services.refundable_fen(session, paid) == 0
    assert _audit(session, paid) == ["payment.dispute_lost"]
    events = rows(session, WebhookEvent, WebhookEvent.payment_id == paid.id)
    assert len(events) == 5  # the success and four distinct dispute events, each once


def test_a_partial_chargeback_withholds_only_its_amount(
    session, paid, dashboard, webhooks, finance
):
    dispute = dashboard.dispute(paid.external_id, amount_fen=10_000, reason="product_not_received")
    webhooks.deliver(stripe_event("charge.dispute.created", dispute))
    session.expire_all()
    assert paid.disputed_fen == 10_000
    assert services.refundable_fen(session, paid) == AMOUNT - 10_000
    with pytest.raises(RefundNotAllowed):
        services.refund(
            session, paid.id, amount_fen=AMOUNT - 9_999, reason="退款", actor_id=finance.id
        )


def test_an_inquiry_withholds_until_it_closes_without_a_chargeback(
    session, paid, dashboard, webhooks
):
    inquiry = dashboard.dispute(paid.external_id, status="warning_needs_response")
    webhooks.deliver(stripe_event("charge.dispute.created", inquiry))
    session.expire_all()
    assert paid.disputed_fen == AMOUNT

    webhooks.deliver(stripe_event("charge.dispute.closed", {**inquiry, "status": "warning_closed"}))
    session.expire_all()
    [row] = rows(session, PaymentDispute, PaymentDispute.payment_id == paid.id)
    assert (row.status, row.gateway_status) == (PaymentDisputeStatus.CLOSED, "warning_closed")
    assert paid.disputed_fen == 0 and services.refundable_fen(session, paid) == AMOUNT


def test_a_dispute_naming_only_its_charge_is_matched_through_the_charge(
    session, paid, dashboard, webhooks, local_stripe
):
    dispute = dashboard.dispute(paid.external_id, name_the_intent=False)
    assert "payment_intent" not in dispute
    before = len(local_stripe.requests)

    assert _outcome(webhooks.deliver(stripe_event("charge.dispute.created", dispute))) == "applied"
    session.expire_all()
    assert paid.disputed_fen == AMOUNT
    asked = [r.path for r in local_stripe.requests[before:]]
    assert asked == [f"/v1/charges/{dispute['charge']}"]  # one read, at the gateway


def test_a_dispute_about_a_charge_stripe_does_not_know_is_acknowledged_and_ignored(
    session, paid, dashboard, webhooks
):
    dispute = {**dashboard.dispute(paid.external_id, name_the_intent=False), "charge": "ch_nope"}
    event = stripe_event("charge.dispute.created", dispute)
    assert _outcome(webhooks.deliver(event)) == "ignored"
    [row] = rows(session, WebhookEvent, WebhookEvent.event_id == event["id"])
    assert row.payment_id is None and row.note
    session.expire_all()
    assert paid.disputed_fen == 0


def test_a_dispute_that_cannot_be_this_payments_is_never_applied(
    session, paid, dashboard, webhooks
):
    dispute = dashboard.dispute(paid.external_id)
    for forged in ({**dispute, "amount": AMOUNT + 1}, {**dispute, "currency": "usd"}):
        assert _outcome(webhooks.deliver(stripe_event("charge.dispute.created", forged))) == (
            "ignored"
        )
    session.expire_all()
    assert paid.disputed_fen == 0
    assert rows(session, PaymentDispute, PaymentDispute.payment_id == paid.id) == []
    mismatches = rows(session, AuditEvent, AuditEvent.action == "payment.gateway_mismatch")
    assert [e.subject_id for e in mismatches] == [paid.id, paid.id]


def test_a_dispute_before_the_success_event_is_not_lost(
    session, stripe_ctx, create_user, dashboard, webhooks
):
    payment = services.start_payment(session, unique_reference(), AMOUNT, description="x")
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)
    dispute = dashboard.dispute(payment.external_id)

    early = webhooks.deliver(stripe_event("charge.dispute.created", dispute))
    assert early.json["outcome"] == "ignored"  # … but a sync with Stripe ran after the commit
    session.expire_all()
    assert payment.status is PaymentStatus.SUCCEEDED
    [row] = rows(session, PaymentDispute, PaymentDispute.payment_id == payment.id)
    assert (row.external_id, row.status) == (dispute["id"], PaymentDisputeStatus.OPEN)
    assert payment.disputed_fen == AMOUNT


def test_sync_picks_up_chargebacks_whose_events_were_lost(session, paid, dashboard):
    dispute = dashboard.dispute(paid.external_id, status="under_review")
    services.sync_from_gateway(session, paid.id)
    services.sync_from_gateway(session, paid.id)
    [row] = rows(session, PaymentDispute, PaymentDispute.payment_id == paid.id)
    assert (row.status, paid.disputed_fen) == (PaymentDisputeStatus.OPEN, AMOUNT)

    dashboard.move_dispute(dispute, "won")
    services.sync_from_gateway(session, paid.id)
    session.refresh(row)
    assert (row.status, paid.disputed_fen) == (PaymentDisputeStatus.WON, 0)
    assert _audit(session, paid) == ["payment.dispute_opened", "payment.dispute_won"]


def test_the_database_keeps_disputed_amounts_within_a_paid_payment(session, create_payment):
    paid = create_payment(status=PaymentStatus.SUCCEEDED, amount_fen=5_000)
    pending = create_payment(status=PaymentStatus.PENDING, amount_fen=5_000)
    for payment, value in ((paid, 5_001), (paid, -1), (pending, 1)):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(
                sa.update(Payment).where(Payment.id == payment.id).values(disputed_fen=value)
            )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            PaymentDispute(
                payment_id=paid.id,
                gateway=paid.gateway,
                external_id="dp_x",
                amount_fen=100,
                status=PaymentDisputeStatus.WON,  # closed but no closing time
                gateway_status="won",
                opened_at=paid.succeeded_at,
            )
        )
        session.flush()


def test_payments_sync_revisits_open_chargebacks(session, paid, dashboard, webhooks):
    later = utcnow() + timedelta(hours=1)
    assert paid.id not in services.payments_needing_sync(session, now=later)
    dispute = dashboard.dispute(paid.external_id)
    webhooks.deliver(stripe_event("charge.dispute.created", dispute))
    assert paid.id not in services.payments_needing_sync(session)  # just heard of it
    assert paid.id in services.payments_needing_sync(session, now=later)

    webhooks.deliver(stripe_event("charge.dispute.closed", {**dispute, "status": "won"}))
    assert paid.id not in services.payments_needing_sync(session, now=later)
