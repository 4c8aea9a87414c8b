"""React to an order ending before delivery: a registry of callbacks, like the payments
module's (:mod:`marketplace.payments.listeners`).

A domain above orders that keeps something alive for an order — an instrument booking holding
its hours — registers once, at import time of its services module::

    @on_order_closed
    def _order_closed(session, order, action) -> None: ...

Callbacks run inside the transaction of the step that declined or cancelled the order, after
the order's status moved and flushed; what they write commits or rolls back with it. They must
be idempotent: the domain that cancels its own thing first and then the order sees its
callback find nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from marketplace.orders.enums import OrderAction

if TYPE_CHECKING:
    from marketplace.orders.models import Order

Listener = Callable[[Session, "Order", OrderAction], None]
#: The moves that end an order before anything was delivered.
CLOSING = frozenset({OrderAction.CANCEL, OrderAction.DECLINE})
_listeners: list[Listener] = []


def on_order_closed(listener: Listener) -> Listener:
    """Register ``listener`` (once: registering the same function again changes nothing)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def announce(session: Session, order: Order, action: OrderAction) -> None:
    if action in CLOSING:
        for listener in list(_listeners):
            listener(session, order, action)
