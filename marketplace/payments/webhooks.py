"""Gateway webhooks: verify, record the event id once, apply under the status precedence.

``process_webhook`` is what the HTTP endpoint calls. Its guarantees:

* **authentic and fresh** — the gateway verifies the signature and its timestamp (Stripe:
  HMAC-SHA256, 300 s tolerance); anything else raises InvalidWebhook and nothing is written;
* **once** — the event id is inserted into ``payment_webhook_events`` (unique per gateway)
  before anything is applied; a replay finds the row (or, when two deliveries race, fails on
  the unique key) and changes nothing;
* **order-independent** — payment status only moves up the precedence of the payment machine
  (:data:`.rules.PAYMENT`), refunds are keyed by their own ids, and chargebacks
  (``charge.dispute.*``) are keyed by the dispute id and only move forward (open → won / lost /
  closed); news a machine has no move for is stale and ignored, so late, repeated or
  reordered events end in the state the gateway holds;
* **attributable** — the row records which payment it touched and whether it was applied.

An event about a PaymentIntent whose id we never stored (the process died after Stripe
created it) is matched through the payment id and reference in the intent's metadata, and
the id is adopted. A dispute that names only its charge (older Stripe API versions) is matched
by asking the gateway which PaymentIntent the charge belongs to; if the gateway cannot be
reached the delivery fails (nothing is recorded) and Stripe delivers it again later. Events
about unknown payments are acknowledged (200) and recorded as
ignored, so the gateway stops re-sending them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace import jobs
from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.payments import services
from marketplace.payments.enums import GatewayKind, PaymentStatus, WebhookOutcome
from marketplace.payments.gateway import GatewayEvent, PaymentGateway, current_gateway
from marketplace.payments.models import Payment, WebhookEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    duplicate: bool
    outcome: WebhookOutcome | None
    payment_id: int | None
    note: str | None = None


def process_webhook(
    session: Session,
    payload: bytes,
    signature: str | None,
    *,
    gateway: PaymentGateway | None = None,
    now: datetime | None = None,
) -> WebhookResult:
    """Verify and apply one webhook delivery (Stripe unless ``gateway`` says otherwise).

    Raises InvalidWebhook (forged, stale, malformed) and GatewayNotConfigured; both leave the
    database untouched.
    """
    gw = gateway or current_gateway(GatewayKind.STRIPE)
    now = now or utcnow()
    event = gw.parse_webhook(payload, signature, now=now.timestamp())
    if _seen(session, gw.kind, event.event_id):
        return _duplicate(event)
    row = WebhookEvent(
        gateway=gw.kind,
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        received_at=now,
        outcome=WebhookOutcome.IGNORED,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent delivery of the same event committed first.
        return _duplicate(event)

    payment = _payment_for(session, gw, event)
    if payment is None:
        row.note = "no payment on this platform matches the event"
        session.flush()
        return _result(row, event)
    row.payment_id = payment.id
    applied, note = _apply(session, payment, event, now=now)
    row.outcome = WebhookOutcome.APPLIED if applied else WebhookOutcome.IGNORED
    row.note = note
    session.flush()
    return _result(row, event)


def _seen(session: Session, kind: GatewayKind, event_id: str) -> bool:
    return (
        session.scalar(
            sa.select(WebhookEvent.id).where(
                WebhookEvent.gateway == kind, WebhookEvent.event_id == event_id
            )
        )
        is not None
    )


def _duplicate(event: GatewayEvent) -> WebhookResult:
    return WebhookResult(
        event_id=event.event_id,
        event_type=event.event_type,
        duplicate=True,
        outcome=None,
        payment_id=None,
        note="already processed",
    )


def _result(row: WebhookEvent, event: GatewayEvent) -> WebhookResult:
    return WebhookResult(
        event_id=event.event_id,
        event_type=event.event_type,
        duplicate=False,
        outcome=row.outcome,
        payment_id=row.payment_id,
        note=row.note,
    )


def _payment_for(session: Session, gw: PaymentGateway, event: GatewayEvent) -> Payment | None:
    """The payment an event is about, locked; adopts the intent id after a lost response."""
    kind = gw.kind
    external_id = event.intent.external_id if event.intent else event.payment_external_id
    if external_id is None and event.disputes:
        charge = event.disputes[0].charge_external_id
        if charge:
            external_id = gw.intent_id_for_charge(charge)
    if external_id:
        payment = session.scalar(
            sa.select(Payment)
            .where(Payment.gateway == kind, Payment.external_id == external_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if payment is not None:
            return payment
    intent = event.intent
    if intent is None or intent.payment_id is None or intent.external_id is None:
        return None
    payment = session.scalar(
        sa.select(Payment)
        .where(Payment.id == intent.payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if (
        payment is None
        or payment.gateway is not kind
        or payment.reference != intent.reference
        or payment.external_id is not None
    ):
        return None
    payment.external_id = intent.external_id
    session.flush()
    record(
        session,
        "payment.opened",
        actor_id=None,
        subject_type="payment",
        subject_id=payment.id,
        external_id=intent.external_id,
        adopted=True,
        via=event.event_id,
    )
    return payment


def _apply(
    session: Session, payment: Payment, event: GatewayEvent, *, now: datetime
) -> tuple[bool, str | None]:
    if event.intent is not None:
        before = payment.status
        if services.apply_intent(session, payment, event.intent, now=event.occurred_at):
            return True, None
        return False, f"status {before.value} kept (event says {event.intent.status.value})"
    if event.disputes:
        if payment.status is not PaymentStatus.SUCCEEDED:
            # Only a paid charge can be disputed, so the success event is late (or was lost).
            jobs.enqueue(session, services.SYNC_JOB, payment.id)
            return False, f"dispute event while {payment.status.value}; sync queued"
        changed = False
        for dispute in event.disputes:
            moved = services.apply_gateway_dispute(session, payment, dispute, now=event.occurred_at)
            changed = moved or changed
        return changed, None if changed else "dispute news already recorded or stale"
    if event.refunds or event.amount_refunded_fen is not None:
        if payment.status is not PaymentStatus.SUCCEEDED:
            # Stripe refunds only paid charges, so the success event is late (or was lost):
            # ask the gateway for the whole picture instead of dropping this news.
            jobs.enqueue(session, services.SYNC_JOB, payment.id)
            return False, f"refund event while {payment.status.value}; sync queued"
        changed = False
        for found in event.refunds:
            changed = services.apply_gateway_refund(session, payment, found, now=now) or changed
        known = payment.refunded_fen + services.refunds_in_flight_fen(session, payment)
        if event.amount_refunded_fen is not None and event.amount_refunded_fen > known:
            # The event states a total we cannot attribute to refund ids: ask the gateway.
            jobs.enqueue(session, services.SYNC_JOB, payment.id)
            return changed, "refund total ahead of known refunds; sync queued"
        return changed, None if changed else "refunds already recorded"
    return False, f"event type {event.event_type} is not handled"
