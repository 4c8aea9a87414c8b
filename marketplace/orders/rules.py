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

from marketplace.orders.enums import Actor, DisputeStatus, OrderAction, OrderStatus, Outcome
from marketplace.orders.errors import ActorNotAllowed, DisputeClosed, IllegalTransition
from marketplace.statemachine import StateMachine

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


# --------------------------------------------------------------------------- disputes


def _decided(status: DisputeStatus | None, outcome: Outcome) -> DisputeClosed:
    return DisputeClosed(
        "争议已有结果 / the dispute is already decided",
        extra={"dispute_status": None if status is None else status.value},
    )


#: A dispute is open (it is created so) until the mediator decides it, once.
DISPUTE = StateMachine(
    "dispute",
    {
        (DisputeStatus.OPEN, Outcome.DISMISS): DisputeStatus.DISMISSED,
        (DisputeStatus.OPEN, Outcome.UPHOLD_PARTIAL): DisputeStatus.UPHELD_PARTIAL,
        (DisputeStatus.OPEN, Outcome.UPHOLD_FULL): DisputeStatus.UPHELD_FULL,
    },
    refuse=_decided,
)
