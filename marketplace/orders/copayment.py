"""The co-payment's side of an order: the payment listener and refunds recorded by finance.

Accepting the agreement starts the payment ``order:<id>`` (:func:`.services.accept`). The
payments module announces what happens to it (:mod:`marketplace.payments.listeners`), inside
the transaction that records the change:

* *succeeded* → the order, if it still awaits payment, is *paid* (by finance recording the bank
  transfer, or by the platform on a Stripe webhook); money for an order that no longer expects
  it (cancelled meanwhile) is owed back at once;
* *refunded* lowers ``refund_due_fen``; *refund_failed* (the bank returned a refund) raises it
  again and tells finance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.orders import notices
from marketplace.orders.access import actor_of, lock_order
from marketplace.orders.core import (
    PAYMENT_REFERENCE_KIND,
    check_version,
    lock_with_payment,
    owe_refund,
    payment_reference,
    record_transition,
    refund_in_flight_fen,
)
from marketplace.orders.enums import Actor, OrderAction, OrderStatus
from marketplace.orders.errors import ActorNotAllowed, NoRefundDue
from marketplace.orders.models import Order
from marketplace.payments import services as payments
from marketplace.payments.listeners import PaymentChange, PaymentChangeKind, on_payment_status
from marketplace.payments.models import Payment, PaymentRefund

S, A = OrderStatus, OrderAction


def mark_paid(
    session: Session, order: Order, actor: Actor, actor_id: int | None, paid_at: datetime
) -> None:
    """Move a locked, agreed order to *paid*; work is due after the lead time agreed (copied
    from the service at acceptance, so a later edit of the service does not move it)."""
    lead_time = order.agreed_lead_time_days
    assert lead_time is not None  # accepted orders carry their terms (CHECK accepted_has_terms)
    order.paid_at = paid_at
    order.due_on = local_date(paid_at) + timedelta(days=lead_time)
    record_transition(
        session, order, A.PAY, actor, actor_id, now=paid_at, due_on=order.due_on.isoformat()
    )
    notices.tell(session, order, "paid")


def _order_id_of(reference: str) -> int | None:
    raw = reference.removeprefix("order:")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else None


def _order_payment_changed(session: Session, payment: Payment, change: PaymentChange) -> None:
    """The co-payment of an order succeeded, or a refund of it went through (or bounced)."""
    order_id = _order_id_of(payment.reference)
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None:
        return
    order = lock_order(session, order.id)
    if change.kind is PaymentChangeKind.SUCCEEDED:
        paid_at = payment.succeeded_at or utcnow()
        if order.status is S.AGREED and payment.amount_fen == order.co_payment_fen:
            if payment.recorded_by_id is not None:
                mark_paid(session, order, Actor.FINANCE, payment.recorded_by_id, paid_at)
            else:
                mark_paid(session, order, Actor.SYSTEM, None, paid_at)
            return
        # Money for an order that no longer expects it (cancelled meanwhile): give it back.
        owed = owe_refund(
            session,
            order,
            payment,
            payment.amount_fen,
            reason=f"订单 {order.id} 已{order.status.zh} / order {order.id} is {order.status.en}",
            actor_id=None,
        )
        order.version += 1
        record(
            session,
            "order.unexpected_payment",
            actor_id=None,
            subject_type="order",
            subject_id=order.id,
            payment_id=payment.id,
            status=order.status.value,
            refund_due_fen=owed,
        )
    elif change.kind is PaymentChangeKind.REFUNDED:
        order.refund_due_fen = max(0, order.refund_due_fen - change.amount_fen)
        order.version += 1
        record(
            session,
            "order.refunded",
            actor_id=None,
            subject_type="order",
            subject_id=order.id,
            payment_id=payment.id,
            amount_fen=change.amount_fen,
            refund_due_fen=order.refund_due_fen,
        )
    elif change.kind is PaymentChangeKind.REFUND_FAILED:
        # The bank returned a refund: it is owed again.
        order.refund_due_fen += change.amount_fen
        order.version += 1
        record(
            session,
            "order.refund_returned",
            actor_id=None,
            subject_type="order",
            subject_id=order.id,
            payment_id=payment.id,
            amount_fen=change.amount_fen,
        )
        notices.tell(session, order, "refund_due")
    session.flush()


# Registered by call rather than as a decorator: on_payment_status's declared return type is a
# union (callback or decorator), which would erase this function's type for mypy.
on_payment_status("order:", _order_payment_changed)


def record_refund(
    session: Session,
    order_id: int,
    user: User,
    *,
    bank_reference: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> PaymentRefund:
    """Finance refunds what the order owes the SME (bank transfers: with its bank reference).

    Raises OrderNotFound, ActorNotAllowed (not finance), PreconditionFailed, NoRefundDue,
    and the refund errors of :func:`marketplace.payments.services.refund`.
    """
    order, payment = lock_with_payment(session, order_id)
    actor = actor_of(user, order)
    if actor is not Actor.FINANCE:
        raise ActorNotAllowed("只有财务人员可以办理退款 / only finance officers record refunds")
    check_version(order, expected_version)
    outstanding = 0
    if payment is not None and order.refund_due_fen > 0:
        outstanding = min(
            order.refund_due_fen - refund_in_flight_fen(session, payment),
            payments.refundable_fen(session, payment),
        )
    if payment is None or outstanding <= 0:
        raise NoRefundDue("该订单没有待退款项 / nothing is owed back on this order")
    return payments.refund(
        session,
        payment.id,
        amount_fen=outstanding,
        reason=f"订单 {order.id} 退还自付部分 / refund of order {order.id}'s co-payment",
        actor_id=user.id,
        bank_reference=bank_reference,
        now=now,
        owner=PAYMENT_REFERENCE_KIND,
    )


def payment_of(session: Session, order: Order) -> Payment | None:
    """The order's live payment, or the last one (all cancelled)."""
    return payments.live_payment(session, payment_reference(order.id)) or session.scalar(
        sa.select(Payment)
        .where(Payment.reference == payment_reference(order.id))
        .order_by(Payment.id.desc())
        .limit(1)
    )
