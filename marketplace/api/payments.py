"""Payments for finance (and auditors, read-only): list, inspect, record receipts, refund.

Finance and auditors are platform-wide roles: every payment is theirs to see, so the
object-level check is that the payment exists (404 otherwise). Money-moving POSTs require an
Idempotency-Key and honour ``If-Match`` / ``version`` (412 when the payment changed).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint, expected_version
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.pagination import Page, paginate
from marketplace.payments import services
from marketplace.payments.models import Payment, PaymentRefund, WebhookEvent
from marketplace.payments.schemas import (
    OfflineReceiptIn,
    PaymentDetailOut,
    PaymentOut,
    PaymentQuery,
    PaymentRefundIn,
    PaymentRefundOut,
    WebhookEventOut,
    payment_view,
)

READERS = (Role.FINANCE, Role.AUDITOR)
WRITERS = (Role.FINANCE,)


def _detail(payment: Payment) -> dict[str, Any]:
    session = db_session()
    session.refresh(payment)
    return payment_view(payment, services.refundable_fen(session, payment))


@endpoint(
    bp,
    "/payments",
    "GET",
    roles=READERS,
    query=PaymentQuery,
    response=PaymentOut,
    paginated=True,
    tags=["payments"],
    summary="Payments, newest first, filtered by status, gateway and reference",
)
def list_payments(query: dict[str, Any]) -> Page:
    session = db_session()
    stmt = sa.select(Payment)
    if query["status"] is not None:
        stmt = stmt.where(Payment.status == query["status"])
    if query["gateway"] is not None:
        stmt = stmt.where(Payment.gateway == query["gateway"])
    reference = query["reference"]
    if reference:
        if reference.endswith(":"):
            stmt = stmt.where(Payment.reference.startswith(reference, autoescape=True))
        else:
            stmt = stmt.where(Payment.reference == reference)
    page = paginate(
        session,
        stmt,
        sort_column=Payment.id,
        id_column=Payment.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )
    items = [payment_view(p, services.refundable_fen(session, p)) for p in page.items]
    return Page(items=items, next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/payments/<int:payment_id>",
    "GET",
    roles=READERS,
    response=PaymentDetailOut,
    tags=["payments"],
    errors=[404],
    summary="One payment with its refunds and chargebacks (gateway disputes)",
)
def get_payment(payment_id: int) -> dict[str, Any]:
    return _detail(services.get_payment(db_session(), payment_id))


@endpoint(
    bp,
    "/payments/<int:payment_id>/webhook-events",
    "GET",
    roles=READERS,
    response=WebhookEventOut,
    many=True,
    tags=["payments"],
    errors=[404],
    summary="The gateway events received for one payment, in order (Stripe; none offline)",
)
def list_payment_webhook_events(payment_id: int) -> list[WebhookEvent]:
    session = db_session()
    payment = services.get_payment(session, payment_id)
    return list(
        session.scalars(
            sa.select(WebhookEvent)
            .where(WebhookEvent.payment_id == payment.id)
            .order_by(WebhookEvent.id)
        )
    )


@endpoint(
    bp,
    "/payments/<int:payment_id>/offline-receipt",
    "POST",
    roles=WRITERS,
    body=OfflineReceiptIn,
    response=PaymentDetailOut,
    idempotency_required=True,
    tags=["payments"],
    errors=[404, 409, 412, 422],
    summary="Record the bank transfer that paid an offline payment (amount must match)",
)
def record_offline_receipt(payment_id: int, body: dict[str, Any]) -> dict[str, Any]:
    payment = services.record_offline_payment(
        db_session(),
        payment_id,
        bank_reference=body["bank_reference"],
        amount_fen=body["amount_fen"],
        actor_id=api_user().id,
        expected_version=expected_version(body),
    )
    return _detail(payment)


@endpoint(
    bp,
    "/payments/<int:payment_id>/refunds",
    "POST",
    roles=WRITERS,
    body=PaymentRefundIn,
    response=PaymentRefundOut,
    status=201,
    idempotency_required=True,
    tags=["payments"],
    errors=[404, 409, 412, 422],
    summary="Refund part or all of a paid payment (never more than what remains)",
    description=(
        "Bank-transfer payments: give the bank_reference of the refund transfer; the refund is "
        "recorded as succeeded. Stripe payments: the refund is created pending and executed at "
        "Stripe right after this request commits."
    ),
)
def create_refund(payment_id: int, body: dict[str, Any]) -> PaymentRefund:
    return services.refund(
        db_session(),
        payment_id,
        amount_fen=body["amount_fen"],
        reason=body["reason"],
        bank_reference=body["bank_reference"],
        actor_id=api_user().id,
        expected_version=expected_version(body),
    )


@endpoint(
    bp,
    "/payments/<int:payment_id>/sync",
    "POST",
    roles=WRITERS,
    response=PaymentDetailOut,
    tags=["payments"],
    errors=[404, 502, 503],
    summary="Re-read the payment from its gateway and converge (safe to repeat)",
)
def sync_payment(payment_id: int) -> dict[str, Any]:
    return _detail(services.sync_from_gateway(db_session(), payment_id))
