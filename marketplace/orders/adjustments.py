"""Lowering an agreed order's price before delivery: the provider charges less than agreed.

Used by instrument bookings when fewer hours were used than booked, or when a no-show is
charged under the provider's terms (:mod:`marketplace.instruments.services`). The price only
ever goes down here: charging more needs a new agreement with the SME (a new order).

The voucher part keeps the programme's ceiling on the *new* price (POLICY rule 2): it becomes
``min(voucher part, ceiling × new price)``, or nothing when the voucher may not pay for what
is charged (a no-show fee pays for no service). What the voucher no longer pays stays on the
hold until the order is confirmed, and the capture then takes only the new voucher part
(:func:`.core.capture_voucher_part`); a voucher part of nothing releases the hold at once.
The co-payment becomes the rest, and what the SME paid above it is refunded through the order
(:func:`.core.owe_refund`). Because the ceiling rounds down, the new co-payment never exceeds
the one paid, so the SME is never asked for more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.errors import ValidationFailed
from marketplace.money import format_fen
from marketplace.orders import notices
from marketplace.orders.access import actor_of
from marketplace.orders.core import lock_with_payment, owe_refund, release_voucher_part
from marketplace.orders.enums import Actor, OrderStatus
from marketplace.orders.errors import ActorNotAllowed, IllegalTransition
from marketplace.orders.models import Order
from vouchers.models import Voucher
from vouchers.rules import ceiling_fen

#: The price can be lowered once the co-payment is in, and until the provider delivers.
ADJUSTABLE = frozenset({OrderStatus.PAID})


def lower_price(
    session: Session,
    order_id: int,
    user: User,
    *,
    price_fen: int,
    reason: str,
    voucher_pays: bool = True,
    now: datetime | None = None,
) -> Order:
    """The provider lowers the order's price to ``price_fen`` (see the module docstring).

    Raises OrderNotFound, ActorNotAllowed (not the order's provider), IllegalTransition (not
    paid yet, or already delivered), ValidationFailed (not lower than the price, or not
    positive).
    """
    now = now or utcnow()
    order, payment = lock_with_payment(session, order_id)
    if actor_of(user, order) is not Actor.PROVIDER:
        raise ActorNotAllowed("只有服务机构可以调低价格 / only the provider lowers the price")
    if order.status not in ADJUSTABLE:
        raise IllegalTransition(
            "只有已付款、未交付的订单可以调低价格 / the price can only be lowered once the order"
            " is paid and before it is delivered",
            extra={"state": order.status.value, "action": "lower_price"},
        )
    assert order.price_fen is not None and order.co_payment_fen is not None
    old_price, old_voucher, old_co = order.price_fen, order.voucher_part_fen, order.co_payment_fen
    if isinstance(price_fen, bool) or not 0 < price_fen <= old_price:
        raise ValidationFailed(
            "新价格须大于零且不高于原价 / the new price must be above zero and not above the"
            " agreed price",
            {"price_fen": [f"1–{old_price}"]},
        )
    voucher_part = 0
    if voucher_pays and old_voucher:
        voucher = session.get(Voucher, order.voucher_id) if order.voucher_id else None
        assert voucher is not None
        voucher_part = min(old_voucher, ceiling_fen(price_fen, voucher.programme.ceiling_bps))
    co_payment = price_fen - voucher_part
    if co_payment > old_co:
        # Only when the voucher may not pay: what the SME already paid is all it can owe.
        co_payment = old_co
        price_fen = voucher_part + co_payment
    if voucher_part == 0 and old_voucher:
        release_voucher_part(session, order, now, user.id, "price_lowered")
    order.price_fen = price_fen
    order.voucher_part_fen = voucher_part
    order.co_payment_fen = co_payment
    order.version += 1
    session.flush()
    refund = owe_refund(
        session,
        order,
        payment,
        old_co - co_payment,
        reason=f"订单 {order.id} 调低价格：{reason}"[:500],
        actor_id=user.id,
    )
    record(
        session,
        "order.price_lowered",
        actor_id=user.id,
        subject_type="order",
        subject_id=order.id,
        from_price_fen=old_price,
        to_price_fen=price_fen,
        from_voucher_part_fen=old_voucher,
        to_voucher_part_fen=voucher_part,
        refund_due_fen=refund,
        reason=reason,
    )
    notices.tell(
        session,
        order,
        "price_lowered",
        except_user_id=user.id,
        values={"price": format_fen(price_fen)},
    )
    return order
