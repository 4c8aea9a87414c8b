"""React to payment outcomes: a registry of callbacks keyed by reference prefix.

The module that owns the payable thing registers once, at import time of its services
module, for the references it creates::

    from marketplace.payments.listeners import PaymentChange, PaymentChangeKind, on_payment_status

    @on_payment_status("order:")
    def _order_payment_changed(session, payment, change: PaymentChange) -> None:
        order = session.get(Order, int(payment.reference.removeprefix("order:")))
        if change.kind is PaymentChangeKind.SUCCEEDED:
            ...

Contract:

* callbacks run **inside the same transaction** that records the change (a webhook, a finance
  officer's receipt, a sync), after the payment row is updated and flushed. Whatever they
  write commits or rolls back together with it; an exception rolls everything back (a webhook
  then answers 500 and Stripe delivers it again later), so raise only for real faults;
* each change is announced **once**: the status precedence (:mod:`.rules`) and the unique
  webhook/refund keys make replays and out-of-order events no-ops, so callbacks need no
  deduplication of their own;
* kinds: ``succeeded``, ``failed`` (the payer may still retry and later succeed),
  ``canceled``, ``refunded`` (one per succeeded refund; ``amount_fen`` is the refund's amount,
  ``payment.refunded_fen`` the new total) and ``refund_failed`` (a refund that had succeeded was
  reversed by the bank; ``payment.refunded_fen`` is already reduced);
* callbacks must not call the gateway: queue follow-up work with :func:`marketplace.jobs.enqueue`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from marketplace.payments.models import Payment


class PaymentChangeKind(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"


@dataclass(frozen=True)
class PaymentChange:
    kind: PaymentChangeKind
    #: The payment's amount for status changes; the refund's amount for refund changes.
    amount_fen: int
    refund_id: int | None = None


Listener = Callable[[Session, "Payment", PaymentChange], None]

_listeners: list[tuple[str, Listener]] = []


def on_payment_status(
    reference_prefix: str, callback: Listener | None = None
) -> Listener | Callable[[Listener], Listener]:
    """Register ``callback`` for payments whose reference starts with ``reference_prefix``.

    Usable as a decorator. Registering the same callback for the same prefix twice (a module
    imported again) keeps one registration.
    """
    if not reference_prefix:
        raise ValueError("give a reference prefix such as 'order:'")

    def register(cb: Listener) -> Listener:
        if (reference_prefix, cb) not in _listeners:
            _listeners.append((reference_prefix, cb))
        return cb

    return register(callback) if callback is not None else register


def remove_listener(reference_prefix: str, callback: Listener) -> None:
    """Unregister (tests, or a module that is being unloaded)."""
    if (reference_prefix, callback) in _listeners:
        _listeners.remove((reference_prefix, callback))


def announce(session: Session, payment: Payment, change: PaymentChange) -> None:
    """Call every listener registered for the payment's reference, in registration order."""
    for prefix, callback in list(_listeners):
        if payment.reference.startswith(prefix):
            callback(session, payment, change)
