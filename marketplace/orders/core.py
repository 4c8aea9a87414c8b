"""The machinery every order step shares: the one place a status changes
(:func:`record_transition`), locking, versions, text, and the money side effects (capture or
release the voucher hold, owe a co-payment refund).

The settlement work uses :func:`lock_order` / :func:`lock_with_payment` and
:func:`record_transition` for the claim and payout steps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.errors import PreconditionFailed, ValidationFailed
from marketplace.orders import listeners, notices
from marketplace.orders.access import lock_order
from marketplace.orders.enums import Actor, OrderAction, OrderStatus
from marketplace.orders.models import Order, OrderEvent
from marketplace.orders.rules import ORDER, check_actor
from marketplace.payments import services as payments
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.models import Payment, PaymentRefund
from vouchers import freezes, holds
from vouchers.enums import HoldStatus
from vouchers.errors import HoldNotOpen
from vouchers.models import Hold

MAX_TEXT = 2000

__all__ = [
    "LAPSE_REASON",
    "MAX_TEXT",
    "PAYMENT_REFERENCE_KIND",
    "capture_voucher_part",
    "check_version",
    "clean_text",
    "lapse_detail",
    "lock_with_payment",
    "owe_refund",
    "payment_reference",
    "record_transition",
    "refund_in_flight_fen",
    "release_voucher_part",
    "tell_lapse",
]


#: The kind of an order's payment reference; refunds of such payments go through the order.
PAYMENT_REFERENCE_KIND = "order"
payments.own_refunds(
    PAYMENT_REFERENCE_KIND,
    "订单的自付款只能在订单上按订单应退金额退款 / an order's co-payment is refunded from the "
    "order, for what the order owes back",
)


def payment_reference(order_id: int) -> str:
    return f"{PAYMENT_REFERENCE_KIND}:{order_id}"


# --------------------------------------------------------------------------- helpers


def clean_text(value: str | None, field: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    """Trimmed text; ValidationFailed when required and blank, or longer than ``limit``."""
    text = (value or "").strip()
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text; refuse it here rather than fail at the flush.
        raise ValidationFailed(
            "文本含有非法字符 / the text contains a NUL character", {field: ["NUL"]}
        )
    if required and not text:
        raise ValidationFailed(
            "请填写此项 / this field is required", {field: ["不能为空 / must not be blank"]}
        )
    if len(text) > limit:
        raise ValidationFailed(
            f"不超过{limit}字 / at most {limit} characters",
            {field: [f"不超过{limit}字 / at most {limit} characters"]},
        )
    return text


def check_version(order: Order, expected: int | None) -> None:
    if expected is not None and expected != order.version:
        raise PreconditionFailed(
            "订单已被修改，请刷新后重试 / the order changed since you read it; reload and retry",
            extra={"current_version": order.version},
        )


def record_transition(
    session: Session,
    order: Order,
    action: OrderAction,
    actor: Actor,
    actor_id: int | None,
    *,
    note: str | None = None,
    now: datetime | None = None,
    **detail: Any,
) -> OrderStatus:
    """Move a **locked** order by ``action``: status, version + 1, history event, audit.

    The one place an order's status changes; the settlement work calls it for claims and
    payouts too. Raises ActorNotAllowed and IllegalTransition (nothing changed). Returns the
    status the order had before.
    """
    check_actor(action, actor)
    before, after = ORDER.move(order, action)
    order.version += 1
    # Stamped here rather than by the column's onupdate, which would leave the attribute
    # expired after the flush and cost a read to build the response.
    order.updated_at = utcnow()
    session.add(
        OrderEvent(
            # Through the relationship, so a loaded ``order.events`` shows it at once.
            order=order,
            occurred_at=now or utcnow(),
            actor=actor,
            actor_id=actor_id,
            action=action,
            from_status=before,
            to_status=after,
            note=note,
            detail=detail,
        )
    )
    session.flush()
    record(
        session,
        f"order.{action.value}",
        actor_id=actor_id,
        subject_type="order",
        subject_id=order.id,
        from_status=before.value,
        to_status=after.value,
        **detail,
    )
    listeners.announce(session, order, action)
    return before


def lock_with_payment(session: Session, order_id: int) -> tuple[Order, Payment | None]:
    """Lock the order's live payment (if any), then the order: the payments module's callbacks
    hold the payment row when they reach the order, so taking them in this order never
    deadlocks against them."""
    payment = payments.live_payment(session, payment_reference(order_id), lock=True)
    return lock_order(session, order_id), payment


def _hold(session: Session, order: Order) -> Hold | None:
    return session.get(Hold, order.hold_id) if order.hold_id is not None else None


#: Release reason of a hold whose order was confirmed after the voucher's claim deadline.
LAPSE_REASON = "claim_deadline_passed"


def capture_voucher_part(
    session: Session,
    order: Order,
    now: datetime,
    actor_id: int | None,
    amount_fen: int | None = None,
) -> int:
    """Capture the order's open hold (all of it, or ``amount_fen``) as the order is confirmed:
    the voucher part becomes payable to the provider. Returns the voucher part that *lapsed*
    instead (0 when it was captured, already captured, or the order has no voucher).

    Confirmation is always possible. Once the voucher's claim deadline has passed the voucher
    part can no longer be captured (nor claimed): the open hold is released to the programme
    budget (reason ``claim_deadline_passed``) and the amount lapses. A hold released before
    the confirmation — by ``flask vouchers expire`` after the claim deadline, or by a
    revocation — lapses the same way. The co-payment stays as agreed.

    Raises AmountInvalid, HoldNotOpen (a concurrent capture).
    """
    hold = _hold(session, order)
    if hold is None or hold.status is HoldStatus.CAPTURED:
        return 0
    if amount_fen is None and 0 < order.voucher_part_fen < hold.amount_fen:
        # The provider lowered the price before delivery (.adjustments): only the lowered
        # voucher part is spent, the rest of the hold returns to the voucher.
        amount_fen = order.voucher_part_fen
    wanted = hold.amount_fen if amount_fen is None else amount_fen
    if hold.status is HoldStatus.OPEN:
        voucher = hold.voucher
        if local_date(now) <= voucher.claim_deadline:
            holds.capture_hold(
                session,
                hold.id,
                f"{payment_reference(order.id)}:capture",
                now,
                provider_id=order.provider_id,
                amount_fen=amount_fen,
                actor_id=actor_id,
            )
            return 0
        try:
            holds.release_hold(
                session,
                hold.id,
                f"{payment_reference(order.id)}:lapse",
                now,
                reason=LAPSE_REASON,
                actor_id=actor_id,
                to_budget=True,
            )
        except HoldNotOpen as race:
            # `vouchers expire` released it meanwhile (the order row does not stop it).
            session.refresh(hold)
            if hold.status is not HoldStatus.RELEASED:
                raise
            race.recovered()
    return wanted


def lapse_detail(session: Session, order: Order, lapsed_fen: int) -> dict[str, Any]:
    """The order event's detail for a lapsed voucher part (empty when nothing lapsed)."""
    if not lapsed_fen:
        return {}
    hold = _hold(session, order)
    return {
        "voucher_lapsed_fen": lapsed_fen,
        "voucher_lapse_reason": (hold.release_reason if hold is not None else None) or LAPSE_REASON,
    }


def tell_lapse(session: Session, order: Order, lapsed_fen: int) -> None:
    """Tell both parties that ``lapsed_fen`` of the voucher part will not be paid."""
    if lapsed_fen:
        hold = _hold(session, order)
        notices.tell_voucher_lapsed(
            session,
            order,
            lapsed_fen,
            reason=(hold.release_reason if hold is not None else None) or LAPSE_REASON,
        )


def release_voucher_part(
    session: Session, order: Order, now: datetime, actor_id: int | None, reason: str
) -> None:
    hold = _hold(session, order)
    if hold is None or hold.status is not HoldStatus.OPEN:
        return
    holds.release_hold(
        session,
        hold.id,
        f"{payment_reference(order.id)}:release",
        now,
        reason=reason,
        actor_id=actor_id,
    )


def refund_in_flight_fen(session: Session, payment: Payment) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(PaymentRefund.amount_fen), 0)).where(
                PaymentRefund.payment_id == payment.id,
                PaymentRefund.status == RefundStatus.PENDING,
            )
        )
        or 0
    )


def owe_refund(
    session: Session,
    order: Order,
    payment: Payment | None,
    amount_fen: int,
    *,
    reason: str,
    actor_id: int | None,
) -> int:
    """Record that ``amount_fen`` of the co-payment is owed back and start the refund.

    Stripe: the refund is requested now (executed after the commit). Bank transfer: finance
    is told to make it and records it with :func:`record_refund`. Returns the amount owed.
    """
    if payment is None or payment.status is not PaymentStatus.SUCCEEDED:
        return 0
    amount = min(amount_fen, payments.refundable_fen(session, payment))
    if amount <= 0:
        return 0
    order.refund_due_fen += amount
    session.flush()
    if payment.gateway is GatewayKind.STRIPE:
        payments.refund(
            session,
            payment.id,
            amount_fen=amount,
            reason=reason[:500],
            actor_id=actor_id,
            owner=PAYMENT_REFERENCE_KIND,
        )
    else:
        notices.tell(session, order, "refund_due")
    return amount


def captured_holds_awaiting_claim(session: Session, hold_ids: list[int]) -> set[int]:
    """Of these captured holds, those whose orders are confirmed (or in dispute) and not yet
    claimed: a blacklisting freezes them (``vouchers.freezes``); claimed ones are past it."""
    return set(
        session.scalars(
            sa.select(Order.hold_id).where(
                Order.hold_id.in_(hold_ids),
                Order.status.in_([OrderStatus.CONFIRMED, OrderStatus.DISPUTED]),
            )
        )
    )


# Registered by call, as the payment listener is: vouchers cannot see orders.
freezes.on_captured_holds(captured_holds_awaiting_claim)
