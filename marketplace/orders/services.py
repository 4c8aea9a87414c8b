"""Order services: one function per step of the order's life (disputes in :mod:`.disputes`).

Each step follows the same recipe, so a reader checks it once:

1. lock the order row (``FOR UPDATE``; when the step touches the co-payment, the payment row
   first, in the same order as the payments module's own callbacks: payment → order → voucher);
2. work out in which capacity the user acts (:func:`.access.actor_of`: another organisation's
   order is 404, read-only roles 403) and check ``expected_version`` (412 when stale);
3. ask the state machine (:func:`.rules.transition`) before anything changes (409
   ``illegal_transition``, 403 ``actor_not_allowed``);
4. do the side effects through the other domains' services: voucher holds
   (:mod:`vouchers.holds`), payments (:mod:`marketplace.payments.services`), credit events and
   ratings (:mod:`providers.credit`);
5. :func:`record_transition`: status, ``version`` + 1, an :class:`OrderEvent`, an audit record;
6. queue e-mails (:mod:`.notices`), sent only after the commit.

Services flush and never commit; any error leaves nothing behind (the caller rolls back, and
the voucher services work in savepoints).

The co-payment: accepting the agreement starts the payment ``order:<id>``; the listener in
:mod:`.copayment` moves the order to *paid* when the payment succeeds (a Stripe webhook or
finance recording the bank transfer). Money owed back to the SME (cancellation after payment,
upheld dispute) is added to ``refund_due_fen``: a Stripe refund is requested at once, a bank
transfer refund waits for finance (:func:`record_refund`); the listener lowers
``refund_due_fen`` as refunds succeed.

This module holds request, quote, decline, accept, cancel and rating; delivery and
confirmation are in :mod:`.delivery`, the co-payment's side in :mod:`.copayment`, and what every
step shares in :mod:`.core`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.errors import NotFound, ValidationFailed
from marketplace.orders import notices
from marketplace.orders.access import actor_of, get_order, lock_order
from marketplace.orders.copayment import mark_paid
from marketplace.orders.core import (
    check_version,
    clean_text,
    lock_with_payment,
    owe_refund,
    payment_reference,
    record_transition,
    release_voucher_part,
)
from marketplace.orders.enums import Actor, OrderAction, OrderStatus
from marketplace.orders.errors import ActorNotAllowed, PriceRequired, RatingNotAllowed
from marketplace.orders.models import Order
from marketplace.orders.rules import transition
from marketplace.payments import services as payments
from marketplace.payments.enums import PaymentStatus
from providers.catalogue import get_service
from providers.credit import rate_service
from providers.enums import PricingMode
from providers.models import Rating
from providers.related import ensure_orderable
from vouchers import holds
from vouchers.models import Enterprise, Voucher
from vouchers.rules import validate_amount

__all__ = [
    "MAX_QUANTITY",
    "RATEABLE",
    "accept",
    "cancel",
    "decline",
    "quote",
    "rate",
    "rating_of",
    "request_service",
]

MAX_QUANTITY = 10_000
#: Orders whose delivery the SME has accepted (or that confirmed themselves): ratable.
RATEABLE = frozenset(
    {
        OrderStatus.CONFIRMED,
        OrderStatus.CLAIMED,
        OrderStatus.CLAIM_APPROVED,
        OrderStatus.PAID_OUT,
        OrderStatus.SETTLED,
    }
)

S, A = OrderStatus, OrderAction


# --------------------------------------------------------------------------- request / quote


def request_service(
    session: Session,
    user: User,
    service_id: int,
    *,
    note: str | None,
    quantity: int = 1,
    now: datetime | None = None,
) -> Order:
    """An SME asks for a service. The provider then quotes (or accepts at the list price).

    Raises PermissionDenied (not an enterprise user), NotFound (service), EnterpriseBlacklisted,
    EnterpriseUnverified, ProviderSuspended, ProviderRevoked, ProviderNotAdmitted,
    ServiceInactive, RelatedPartyConflict, ValidationFailed.
    """
    enterprise = session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None
    if enterprise is None:
        raise ActorNotAllowed("只有企业用户可以下单 / only enterprise users place orders")
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 0 < quantity <= MAX_QUANTITY
    ):
        raise ValidationFailed("数量无效 / invalid quantity", {"quantity": [f"1–{MAX_QUANTITY}"]})
    text = clean_text(note, "note", required=False)
    service = get_service(session, service_id)
    holds.check_enterprise_may_use(enterprise)
    ensure_orderable(session, service, enterprise)
    now = now or utcnow()
    order = Order(
        enterprise_id=enterprise.id,
        provider_id=service.provider_id,
        service_id=service.id,
        status=OrderStatus.REQUESTED,
        version=1,
        request_note=text,
        quantity=quantity,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    record(
        session,
        "order.requested",
        actor_id=user.id,
        subject_type="order",
        subject_id=order.id,
        service_id=service.id,
        provider_id=service.provider_id,
        quantity=quantity,
    )
    notices.tell(session, order, "requested", except_user_id=user.id)
    return order


def quote(
    session: Session,
    order_id: int,
    user: User,
    *,
    price_fen: int | None = None,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Order:
    """The provider states the final price (again, until the SME accepts). Without a price a
    fixed-price service is accepted at its list price × quantity.

    Raises OrderNotFound, ActorNotAllowed, IllegalTransition, PreconditionFailed,
    PriceRequired (quote-on-request service without a price), AmountInvalid, ValidationFailed.
    """
    order = lock_order(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.QUOTE, actor)
    text = clean_text(note, "note", required=False) or None
    service = order.service
    if price_fen is None:
        if service.pricing is not PricingMode.FIXED or not service.price_fen:
            raise PriceRequired(
                "该服务须报价，请填写最终价格 / this service is priced on request: give the final"
                " price",
                field="price_fen",
            )
        price_fen = service.price_fen * order.quantity
    price = validate_amount(price_fen, field="price_fen")
    order.price_fen = price
    order.quote_note = text
    record_transition(session, order, A.QUOTE, actor, user.id, note=text, now=now, price_fen=price)
    notices.tell(session, order, "quoted", except_user_id=user.id)
    return order


def decline(
    session: Session,
    order_id: int,
    user: User,
    *,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Order:
    """The provider turns the request down, with a reason. Raises as :func:`quote`."""
    order = lock_order(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.DECLINE, actor)
    text = clean_text(reason, "reason", required=True)
    record_transition(session, order, A.DECLINE, actor, user.id, note=text, now=now)
    notices.tell(session, order, "declined", except_user_id=user.id)
    return order


# --------------------------------------------------------------------------- accept / pay


def accept(
    session: Session,
    order_id: int,
    user: User,
    *,
    voucher_id: int | None,
    agree: bool,
    requested_fen: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Order:
    """The SME accepts the quote and the agreement, paying with one of its vouchers.

    The service's terms (title, category, description, unit, lead time) are copied onto the
    order: later edits of the service do not change what was agreed, and the delivery date is
    computed from the copied lead time. The voucher hold takes
    ``min(requested, ceiling × price, balance, remaining annual cap)``
    (:func:`vouchers.holds.place_hold`, reference ``order:<id>``); the order stores that as
    its voucher part and the rest as the co-payment, whose payment is started at once.
    Without a voucher the SME pays the whole price.

    Raises OrderNotFound, ActorNotAllowed, IllegalTransition, PreconditionFailed,
    ValidationFailed (agreement not accepted), NotFound (voucher not the enterprise's), the
    orderability errors of :func:`providers.related.ensure_orderable` (also NotInProgramme,
    CategoryNotEligible for the voucher's programme), the hold errors of
    :func:`vouchers.holds.place_hold` (CapExceeded, VoucherExpired …), InvalidPayment.
    """
    now = now or utcnow()
    order = lock_order(session, order_id, with_service=True)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.ACCEPT, actor)
    if agree is not True:
        raise ValidationFailed(
            "请阅读并同意服务协议 / accept the service agreement to continue",
            {"agree": ["须同意协议 / the agreement must be accepted"]},
        )
    assert order.price_fen is not None  # quoted orders carry a price
    price = order.price_fen
    enterprise = order.enterprise
    holds.check_enterprise_may_use(enterprise)
    voucher: Voucher | None = None
    if voucher_id is not None:
        # Locked now (order, then voucher, then quota): the hold below uses this read.
        voucher = holds.lock_voucher(session, voucher_id, field="voucher_id")
        if voucher.enterprise_id != order.enterprise_id:
            raise NotFound("没有该电子券 / no such voucher", field="voucher_id")
    ensure_orderable(session, order.service, enterprise, voucher.programme if voucher else None)
    reference = payment_reference(order.id)
    voucher_part = 0
    if voucher is not None:
        hold = holds.place_hold(
            session,
            voucher,
            reference,
            price if requested_fen is None else requested_fen,
            price,
            f"{reference}:hold",
            now,
            service_category=order.service.category.value,
            actor_id=user.id,
        )
        order.voucher_id = voucher.id
        order.hold_id = hold.id
        voucher_part = hold.amount_fen
    order.voucher_part_fen = voucher_part
    order.co_payment_fen = price - voucher_part
    order.agreement_accepted_at = now
    # The terms agreed stay with the order, whatever the provider edits later.
    order.take_terms(order.service)
    record_transition(
        session,
        order,
        A.ACCEPT,
        actor,
        user.id,
        now=now,
        voucher_id=order.voucher_id,
        voucher_part_fen=voucher_part,
        co_payment_fen=order.co_payment_fen,
        service_version=order.service.version,
        lead_time_days=order.agreed_lead_time_days,
    )
    notices.tell(session, order, "agreed", except_user_id=user.id)
    if order.co_payment_fen > 0:
        payments.start_payment(
            session,
            reference,
            order.co_payment_fen,
            description=f"订单 {order.id} 自付部分 / order {order.id} co-payment",
            payer_id=user.id,
            actor_id=user.id,
        )
    else:
        # The voucher covers everything (a programme with a 100% ceiling): nothing to pay.
        mark_paid(session, order, Actor.SYSTEM, None, now)
    return order


# --------------------------------------------------------------------------- cancellation


def cancel(
    session: Session,
    order_id: int,
    user: User,
    *,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Order:
    """Either party cancels before delivery, with a reason: the voucher hold is released, an
    unpaid co-payment cancelled, a paid one refunded (see the module docstring).

    Raises OrderNotFound, ActorNotAllowed, IllegalTransition, PreconditionFailed,
    ValidationFailed, and from the payments module PaymentStateError / GatewayError (Stripe
    refused to cancel a payment that went through meanwhile).
    """
    now = now or utcnow()
    order, payment = lock_with_payment(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.CANCEL, actor)
    text = clean_text(reason, "reason", required=True)
    release_voucher_part(session, order, now, user.id, "order_cancelled")
    refund_due = 0
    if payment is not None:
        if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            payments.cancel_payment(session, payment.id, actor_id=user.id, reason=text, now=now)
        elif payment.status is PaymentStatus.SUCCEEDED:
            refund_due = owe_refund(
                session,
                order,
                payment,
                payment.amount_fen,
                reason=f"订单 {order.id} 已取消：{text}"[:500],
                actor_id=user.id,
            )
    order.cancelled_at = now
    order.cancel_reason = text
    record_transition(
        session, order, A.CANCEL, actor, user.id, note=text, now=now, refund_due_fen=refund_due
    )
    notices.tell(session, order, "cancelled", except_user_id=user.id)
    return order


# --------------------------------------------------------------------------- rating


def rate(
    session: Session,
    order_id: int,
    user: User,
    *,
    stars: int,
    comment: str | None,
) -> Rating:
    """The SME rates the service of a confirmed order (once). Raises OrderNotFound,
    ActorNotAllowed, RatingNotAllowed, ValidationFailed, DuplicateRating."""
    order = get_order(session, order_id, user)
    if actor_of(user, order) is not Actor.ENTERPRISE:
        raise ActorNotAllowed("只有下单企业可以评价 / only the ordering enterprise rates")
    if order.status not in RATEABLE:
        raise RatingNotAllowed(
            "订单确认验收后才能评价 / an order can be rated once its delivery is confirmed",
            extra={"order_status": order.status.value},
        )
    rating = rate_service(
        session, order.enterprise, order.service, payment_reference(order.id), stars, comment
    )
    record(
        session,
        "order.rated",
        actor_id=user.id,
        subject_type="order",
        subject_id=order.id,
        stars=stars,
    )
    return rating


def rating_of(session: Session, order: Order) -> Rating | None:
    return session.scalar(
        sa.select(Rating).where(
            Rating.enterprise_id == order.enterprise_id,
            Rating.order_ref == payment_reference(order.id),
        )
    )
