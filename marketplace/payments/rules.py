"""Pure payment rules: status precedence, idempotency keys, the refund limit. No database.

Status precedence
-----------------
Gateways deliver events late, twice and out of order. A payment's status therefore only ever
moves *up* this ranking, whatever order the news arrives in::

    pending (0) < processing (1) < failed (2) < succeeded (3) = canceled (3)

* a late ``processing`` never overrides ``failed`` or ``succeeded``;
* ``failed`` may still become ``succeeded`` (Stripe lets the payer retry the same
  PaymentIntent with another card), but a failure reported after a success is ignored;
* ``succeeded`` and ``canceled`` are final: Stripe never cancels a paid PaymentIntent nor
  charges a canceled one, so a contradicting event is stale and ignored.

A payer retrying after a failure makes Stripe report ``processing`` again; we keep showing
``failed`` until the retry's outcome arrives, which is the only cost of the rule.

Chargeback (dispute) precedence
-------------------------------
A dispute is open until the card network decides, then final: won, lost, or closed without a
chargeback. A final state never changes again, and a final state always replaces an open one,
whatever order the news comes in. Among the open states Stripe moves an inquiry forward
(``warning_needs_response`` < ``warning_under_review``) and a chargeback forward
(``needs_response`` < ``under_review``), an inquiry possibly escalating into a chargeback;
news of an earlier open state is stale and ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.payments.models import PaymentDisputeStatus, PaymentStatus

RANK: dict[PaymentStatus, int] = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.CANCELED: 3,
}
FINAL = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED})

#: Order of the open dispute states (Stripe's words); unknown words rank lowest.
OPEN_DISPUTE_RANK: dict[str, int] = {
    "warning_needs_response": 1,
    "warning_under_review": 2,
    "needs_response": 3,
    "under_review": 4,
}

#: Stripe keeps an idempotency key for at least 24 hours; we stop trusting it an hour earlier.
IDEMPOTENCY_WINDOW = timedelta(hours=23)


def may_move(current: PaymentStatus, new: PaymentStatus) -> bool:
    """Whether news of ``new`` changes a payment that is ``current`` (see module docstring)."""
    if current == new or current in FINAL:
        return False
    return RANK[new] > RANK[current]


def dispute_may_move(
    current: PaymentDisputeStatus,
    current_word: str,
    new: PaymentDisputeStatus,
    new_word: str,
) -> bool:
    """Whether news of a dispute in ``new`` (the gateway's word ``new_word``) changes one we
    hold as ``current`` (``current_word``). See the module docstring."""
    if current is not PaymentDisputeStatus.OPEN:
        return False
    if new is not PaymentDisputeStatus.OPEN:
        return True
    return OPEN_DISPUTE_RANK.get(new_word, 0) > OPEN_DISPUTE_RANK.get(current_word, 0)


def create_key(payment_id: int) -> str:
    """Idempotency key of the gateway call that opens payment ``payment_id``."""
    return f"payment-{payment_id}-create"


def late_create_key(payment_id: int, now: datetime) -> str:
    """Key for opening a payment after the gateway may have forgotten :func:`create_key`.

    One per UTC day: a crash and retry on the same day still collapse into one call, and by the
    next day the gateway's search finds the earlier attempt (see ``ensure_gateway_intent``).
    """
    return f"payment-{payment_id}-create-{now:%Y%m%d}"


def cancel_key(payment_id: int) -> str:
    return f"payment-{payment_id}-cancel"


def refund_key(refund_id: int) -> str:
    """Idempotency key of the gateway call that executes refund row ``refund_id``."""
    return f"refund-{refund_id}"


def within_idempotency_window(created_at: datetime, now: datetime) -> bool:
    return now - created_at < IDEMPOTENCY_WINDOW


def refund_problem(*, status: PaymentStatus, refundable_fen: int, amount_fen: int) -> str | None:
    """Why a refund of ``amount_fen`` is not allowed, or None when it is."""
    if status is not PaymentStatus.SUCCEEDED:
        return "只能对已支付的款项退款 / only a succeeded payment can be refunded"
    if amount_fen <= 0:
        return "退款金额必须大于零 / the refund amount must be positive"
    if amount_fen > refundable_fen:
        return (
            f"退款金额超过可退金额（{refundable_fen} 分）/ the refund exceeds what may still be "
            f"refunded ({refundable_fen} fen)"
        )
    return None
