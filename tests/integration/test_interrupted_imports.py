"""Issue 17: a bank confirmation import or a webhook interrupted midway; re-running applies
the rest, once.

The interruption is a fault injected after part of the work was written (the first payment
line's money posted; the webhook's event recorded and the payment moved): the request's one
transaction is rolled back whole, so nothing half-done stays, and the bank's file or Stripe's
redelivery simply runs again.
"""

from __future__ import annotations

import pytest

from marketplace.db import commit
from marketplace.enums import Role
from marketplace.notifications.models import OutboundEmail
from marketplace.payments import services
from marketplace.payments.enums import PaymentStatus, WebhookOutcome
from marketplace.payments.listeners import on_payment_status, remove_listener
from marketplace.payments.models import WebhookEvent
from marketplace.settlement import payouts
from marketplace.settlement.enums import PayoutBatchStatus, PayoutLineStatus
from marketplace.settlement.ledger_checks import verify_books
from tests.conftest import rows
from tests.support.payment_fixtures import unique_reference
from vouchers.enums import TransactionKind
from vouchers.ledger_models import LedgerTransaction


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


def _payouts(session):
    return rows(session, LedgerTransaction, LedgerTransaction.kind == TransactionKind.PAYOUT)


@pytest.fixture
def sent_batch(settlement_world):
    """A sent payout batch with two payment lines (two providers)."""
    w = settlement_world
    first, second = w.order(), w.order(price_fen=100_000)
    w.approved_claim(first)
    w.approved_claim(second)
    batch = w.sent_batch()
    assert len(batch.lines) == 2
    return batch


def test_a_confirmation_import_cut_off_midway_is_rerun_whole(
    session, app, settlement_world, sent_batch, create_user, api_token, monkeypatch
):
    client = app.test_client()
    headers = api_token(create_user(Role.FINANCE), step_up=True)
    csv_text = settlement_world.confirmation_csv(sent_batch)
    url = f"/api/v1/payout-batches/{sent_batch.id}/confirmation-csv"
    post_payout = payouts._post_payout
    calls = []

    def cut_off_after_the_first_line(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first line's money is posted; the process dies here
            raise RuntimeError("worker killed")
        return post_payout(*args, **kwargs)

    monkeypatch.setattr(payouts, "_post_payout", cut_off_after_the_first_line)
    crashed = client.post(url, json={"csv": csv_text}, headers={**headers, "Idempotency-Key": "c1"})
    assert crashed.status_code == 500 and len(calls) == 2
    session.expire_all()
    assert {line.status for line in sent_batch.lines} == {PayoutLineStatus.PENDING}
    assert _payouts(session) == []  # the first line's posting went with the rest

    monkeypatch.setattr(payouts, "_post_payout", post_payout)
    rerun = client.post(url, json={"csv": csv_text}, headers={**headers, "Idempotency-Key": "c1"})
    assert rerun.status_code == 200, rerun.get_json()
    assert sorted(rerun.get_json()["applied"]) == sorted(line.id for line in sent_batch.lines)
    # The finance officer, unsure, imports the file once more: nothing moves twice.
    again = client.post(url, json={"csv": csv_text}, headers={**headers, "Idempotency-Key": "c2"})
    assert again.status_code == 200
    assert again.get_json()["applied"] == []
    assert sorted(again.get_json()["unchanged"]) == sorted(line.id for line in sent_batch.lines)
    session.expire_all()
    assert sent_batch.status is PayoutBatchStatus.COMPLETED
    assert len(_payouts(session)) == 2
    report = verify_books(session)
    assert report.ok, [c.breaches for c in report.checks if not c.ok]


def test_a_partial_bank_file_then_the_full_one_applies_the_rest(
    session, settlement_world, sent_batch
):
    w = settlement_world
    first_line, second_line = sent_batch.lines
    full = w.confirmation_csv(sent_batch)
    header, first_row, _second_row = full.strip().split("\r\n")
    partial = "\r\n".join([header, first_row]) + "\r\n"

    early = w.confirm(sent_batch, partial)
    assert early.applied == [first_line.id]
    assert sent_batch.status is not PayoutBatchStatus.COMPLETED
    rest = w.confirm(sent_batch, full)
    assert (rest.applied, rest.unchanged) == ([second_line.id], [first_line.id])
    assert len(_payouts(session)) == 2
    assert sent_batch.status is PayoutBatchStatus.COMPLETED
    report = verify_books(session)
    assert report.ok, [c.breaches for c in report.checks if not c.ok]


def test_a_webhook_cut_off_midway_is_applied_once_on_redelivery(
    session, opened, dashboard, webhooks
):
    dashboard.pay(opened.external_id)
    [succeeded] = [
        e
        for e in dashboard.events_for(opened.external_id)
        if e["type"] == "payment_intent.succeeded"
    ]
    crashes = []

    def crash_once(_session, _payment, _change):
        # After the event is recorded and the payment moved: the process dies here once.
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker killed")

    on_payment_status("fee:", crash_once)
    try:
        cut_off = webhooks.deliver(succeeded)
        assert cut_off.status_code == 500  # Stripe delivers it again later
        session.expire_all()
        assert opened.status is PaymentStatus.PENDING
        assert rows(session, WebhookEvent, WebhookEvent.payment_id == opened.id) == []

        redelivered = [webhooks.deliver(succeeded) for _ in range(2)]
    finally:
        remove_listener("fee:", crash_once)
    assert [r.status_code for r in redelivered] == [200, 200]
    assert [r.json["duplicate"] for r in redelivered] == [False, True]
    session.expire_all()
    assert opened.status is PaymentStatus.SUCCEEDED
    [event] = rows(session, WebhookEvent, WebhookEvent.payment_id == opened.id)
    assert event.outcome is WebhookOutcome.APPLIED
    receipts = rows(session, OutboundEmail, OutboundEmail.user_id == opened.payer_id)
    assert [m.template for m in receipts] == ["payment_received"]
