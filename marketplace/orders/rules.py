"""The order state machine: the table, who may take each step, and named errors.

::

    requested ─quote→ quoted ─accept→ agreed ─pay→ paid ─deliver→ delivered ─confirm/auto_confirm→ confirmed
        │   ╲decline      │╲decline      │             │                │ ╲dispute                 │ ╲dispute
        │                 │             cancel        cancel            │   disputed ─dismiss/uphold_partial→ confirmed
      cancel            cancel                                          │      ╲uphold_full→ refunded
                                                                        │
    confirmed ─claim→ claimed ─approve_claim→ claim_approved ─pay_out→ paid_out ─settle→ settled
                 ╲reject_claim→ confirmed      ╲payout_failed→ claim_approved (back to the queue)
                 ╲dispute→ disputed (the claim line is frozen until the dispute is resolved)

Cancellation is possible until delivery: it releases the voucher hold and refunds the
co-payment (the services do that; this module only says whether the move is legal).
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.enums import LabelledEnum
from marketplace.errors import Conflict, PermissionDenied
from marketplace.statemachine import StateMachine


class OrderStatus(LabelledEnum):
    REQUESTED = "requested", "已提交需求", "Requested"
    QUOTED = "quoted", "已报价", "Quoted"
    DECLINED = "declined", "机构已拒绝", "Declined"
    AGREED = "agreed", "已确认协议", "Agreed"
    PAID = "paid", "已支付自付部分", "Co-payment received"
    DELIVERED = "delivered", "已交付", "Delivered"
    DISPUTED = "disputed", "争议处理中", "In dispute"
    CONFIRMED = "confirmed", "已确认验收", "Confirmed"
    CLAIMED = "claimed", "已申请兑付", "Claimed"
    CLAIM_APPROVED = "claim_approved", "兑付已批准", "Claim approved"
    PAID_OUT = "paid_out", "已拨付", "Paid out"
    SETTLED = "settled", "已结算", "Settled"
    CANCELLED = "cancelled", "已取消", "Cancelled"
    REFUNDED = "refunded", "已退款", "Refunded"


class OrderAction(StrEnum):
    QUOTE = "quote"
    DECLINE = "decline"
    ACCEPT = "accept"
    PAY = "pay"
    DELIVER = "deliver"
    CONFIRM = "confirm"
    AUTO_CONFIRM = "auto_confirm"
    DISPUTE = "dispute"
    DISMISS_DISPUTE = "dismiss_dispute"
    UPHOLD_PARTIAL = "uphold_partial"
    UPHOLD_FULL = "uphold_full"
    CLAIM = "claim"
    REJECT_CLAIM = "reject_claim"
    APPROVE_CLAIM = "approve_claim"
    PAY_OUT = "pay_out"
    PAYOUT_FAILED = "payout_failed"
    SETTLE = "settle"
    CANCEL = "cancel"


class Actor(StrEnum):
    """Who acts on an order: its two parties, the administrators, or the platform itself."""

    ENTERPRISE = "enterprise"
    PROVIDER = "provider"
    REVIEWER = "reviewer"
    FINANCE = "finance"
    SYSTEM = "system"  # jobs, payment webhooks, bank confirmation imports


S, A = OrderStatus, OrderAction

TRANSITIONS: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.REQUESTED, A.QUOTE): S.QUOTED,
    (S.QUOTED, A.QUOTE): S.QUOTED,  # a revised quote before the SME accepts
    (S.REQUESTED, A.DECLINE): S.DECLINED,
    (S.QUOTED, A.DECLINE): S.DECLINED,
    (S.QUOTED, A.ACCEPT): S.AGREED,
    (S.AGREED, A.PAY): S.PAID,
    (S.PAID, A.DELIVER): S.DELIVERED,
    (S.DELIVERED, A.CONFIRM): S.CONFIRMED,
    (S.DELIVERED, A.AUTO_CONFIRM): S.CONFIRMED,
    (S.DELIVERED, A.DISPUTE): S.DISPUTED,
    (S.CONFIRMED, A.DISPUTE): S.DISPUTED,
    (S.CLAIMED, A.DISPUTE): S.DISPUTED,
    (S.DISPUTED, A.DISMISS_DISPUTE): S.CONFIRMED,
    (S.DISPUTED, A.UPHOLD_PARTIAL): S.CONFIRMED,
    (S.DISPUTED, A.UPHOLD_FULL): S.REFUNDED,
    (S.CONFIRMED, A.CLAIM): S.CLAIMED,
    (S.CLAIMED, A.REJECT_CLAIM): S.CONFIRMED,
    (S.CLAIMED, A.APPROVE_CLAIM): S.CLAIM_APPROVED,
    (S.CLAIM_APPROVED, A.PAY_OUT): S.PAID_OUT,
    (S.CLAIM_APPROVED, A.PAYOUT_FAILED): S.CLAIM_APPROVED,
    (S.PAID_OUT, A.SETTLE): S.SETTLED,
    (S.REQUESTED, A.CANCEL): S.CANCELLED,
    (S.QUOTED, A.CANCEL): S.CANCELLED,
    (S.AGREED, A.CANCEL): S.CANCELLED,
    (S.PAID, A.CANCEL): S.CANCELLED,
}

ACTORS: dict[OrderAction, frozenset[Actor]] = {
    A.QUOTE: frozenset({Actor.PROVIDER}),
    A.DECLINE: frozenset({Actor.PROVIDER}),
    A.ACCEPT: frozenset({Actor.ENTERPRISE}),
    A.PAY: frozenset({Actor.SYSTEM, Actor.FINANCE}),
    A.DELIVER: frozenset({Actor.PROVIDER}),
    A.CONFIRM: frozenset({Actor.ENTERPRISE}),
    A.AUTO_CONFIRM: frozenset({Actor.SYSTEM}),
    A.DISPUTE: frozenset({Actor.ENTERPRISE}),
    A.DISMISS_DISPUTE: frozenset({Actor.REVIEWER}),
    A.UPHOLD_PARTIAL: frozenset({Actor.REVIEWER}),
    A.UPHOLD_FULL: frozenset({Actor.REVIEWER}),
    A.CLAIM: frozenset({Actor.PROVIDER}),
    A.REJECT_CLAIM: frozenset({Actor.REVIEWER, Actor.FINANCE}),
    A.APPROVE_CLAIM: frozenset({Actor.FINANCE}),
    A.PAY_OUT: frozenset({Actor.FINANCE, Actor.SYSTEM}),
    A.PAYOUT_FAILED: frozenset({Actor.FINANCE, Actor.SYSTEM}),
    A.SETTLE: frozenset({Actor.SYSTEM}),
    A.CANCEL: frozenset({Actor.ENTERPRISE, Actor.PROVIDER}),
}

TERMINAL = frozenset({S.DECLINED, S.CANCELLED, S.REFUNDED, S.SETTLED})
#: Until delivery the order can be cancelled and the voucher hold is still open.
BEFORE_DELIVERY = frozenset({S.REQUESTED, S.QUOTED, S.AGREED, S.PAID})


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "This step is not possible in the order's current state"


class ActorNotAllowed(PermissionDenied):
    code = "actor_not_allowed"
    title = "This party may not take this step"


def _illegal(status: OrderStatus | None, action: OrderAction) -> IllegalTransition:
    assert status is not None  # orders are created ``requested``, never by a move
    return IllegalTransition(
        f"订单状态为“{status.zh}”，不能执行“{action.value}” / "
        f"cannot {action.value} an order that is {status.en.lower()}",
        extra={"status": status.value, "action": action.value},
    )


ORDER = StateMachine("order", TRANSITIONS, refuse=_illegal)


def transition(status: OrderStatus, action: OrderAction, actor: Actor) -> OrderStatus:
    """The state after ``actor`` takes ``action`` on an order in ``status``.

    Raises ActorNotAllowed when the action is never the actor's to take, and IllegalTransition
    when the action is not possible from ``status``. The actor is checked first, so a party
    learns nothing about states it may not act on.
    """
    check_actor(action, actor)
    return ORDER.next(status, action)


def check_actor(action: OrderAction, actor: Actor) -> None:
    """Raises ActorNotAllowed unless ``action`` is ``actor``'s to take."""
    if actor not in ACTORS[action]:
        raise ActorNotAllowed(
            f"{actor.value} 不能执行“{action.value}” / {actor.value} may not {action.value} an order"
        )


def allowed_actions(status: OrderStatus, actor: Actor) -> list[OrderAction]:
    """What ``actor`` can do next (for buttons on pages and links in the API)."""
    return [a for a in ORDER.actions_from(status) if actor in ACTORS[a]]
