"""Pure payment rules: the three state machines, idempotency keys, the refund limit. No database.

What we learn about a payment, a refund or a chargeback is *news*, mostly from the gateway
(webhooks and syncs), which delivers it late, twice and out of order. Each machine below is a
table ``(current status, news) → new status`` (:class:`~marketplace.statemachine.StateMachine`);
news the table has no move for is stale and ignored — the services ask ``allows`` before they
``move`` — so repeated, late or reordered news ends in the state the gateway holds. Each piece
of news is named after the status it reports.

Payment (:data:`PAYMENT`)
-------------------------
A payment's status only ever moves *up* this ranking, whatever order the news arrives in::

    pending < processing < failed < succeeded = canceled

* a late ``processing`` never overrides ``failed`` or ``succeeded``;
* ``failed`` may still become ``succeeded`` (Stripe lets the payer retry the same
  PaymentIntent with another card), but a failure reported after a success is ignored;
* ``succeeded`` and ``canceled`` are final: Stripe never cancels a paid PaymentIntent nor
  charges a canceled one, so a contradicting event is stale and ignored.

A payer retrying after a failure makes Stripe report ``processing`` again; we keep showing
``failed`` until the retry's outcome arrives, which is the only cost of the rule.

A finance officer recording a bank transfer brings news of ``succeeded``, a cancellation news
of ``canceled``. People take these steps on fewer states than the table allows (a transfer is
recorded only on a pending payment, a payment is canceled only while pending or failed), so the
services refuse them first, with their own errors (``PaymentStateError``).

Refund (:data:`REFUND`)
-----------------------
A refund is pending until the gateway answers, then ``succeeded`` or ``failed``. A succeeded
refund may still fail later (the bank returns the transfer: a reversal); a failed one is final.
News of ``pending`` never changes a refund.

Chargeback (dispute, :data:`DISPUTE`)
-------------------------------------
A dispute is open until the card network decides, then final: won, lost, or closed without a
chargeback. A final state never changes again, and a final state always replaces an open one,
whatever order the news comes in. Among the open states Stripe moves an inquiry forward
(``warning_needs_response`` < ``warning_under_review``) and a chargeback forward
(``needs_response`` < ``under_review``), an inquiry possibly escalating into a chargeback. The
machine covers the status (open news moves an open dispute to open); whether that news is
fresher than what we hold is decided by Stripe's word (:func:`is_later_open_word`): news of an
earlier open state is stale and ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.payments.enums import (
    DisputeNews,
    PaymentDisputeStatus,
    PaymentNews,
    PaymentStatus,
    RefundNews,
    RefundStatus,
)
from marketplace.statemachine import StateMachine

PAYMENT: StateMachine[PaymentStatus, PaymentNews] = StateMachine(
    "payment",
    {
        (PaymentStatus.PENDING, PaymentNews.PROCESSING): PaymentStatus.PROCESSING,
        (PaymentStatus.PENDING, PaymentNews.FAILED): PaymentStatus.FAILED,
        (PaymentStatus.PENDING, PaymentNews.SUCCEEDED): PaymentStatus.SUCCEEDED,
        (PaymentStatus.PENDING, PaymentNews.CANCELED): PaymentStatus.CANCELED,
        (PaymentStatus.PROCESSING, PaymentNews.FAILED): PaymentStatus.FAILED,
        (PaymentStatus.PROCESSING, PaymentNews.SUCCEEDED): PaymentStatus.SUCCEEDED,
        (PaymentStatus.PROCESSING, PaymentNews.CANCELED): PaymentStatus.CANCELED,
        # the payer retried the same PaymentIntent with another card
        (PaymentStatus.FAILED, PaymentNews.SUCCEEDED): PaymentStatus.SUCCEEDED,
        (PaymentStatus.FAILED, PaymentNews.CANCELED): PaymentStatus.CANCELED,
    },
)

REFUND: StateMachine[RefundStatus, RefundNews] = StateMachine(
    "refund",
    {
        (RefundStatus.PENDING, RefundNews.SUCCEEDED): RefundStatus.SUCCEEDED,
        (RefundStatus.PENDING, RefundNews.FAILED): RefundStatus.FAILED,
        # the bank returned the refund transfer (a reversal)
        (RefundStatus.SUCCEEDED, RefundNews.FAILED): RefundStatus.FAILED,
    },
)

DISPUTE: StateMachine[PaymentDisputeStatus, DisputeNews] = StateMachine(
    "payment dispute",
    {
        # progress among the open states, taken only when Stripe's word is later
        # (is_later_open_word); earlier open news is stale
        (PaymentDisputeStatus.OPEN, DisputeNews.OPEN): PaymentDisputeStatus.OPEN,
        (PaymentDisputeStatus.OPEN, DisputeNews.WON): PaymentDisputeStatus.WON,
        (PaymentDisputeStatus.OPEN, DisputeNews.LOST): PaymentDisputeStatus.LOST,
        (PaymentDisputeStatus.OPEN, DisputeNews.CLOSED): PaymentDisputeStatus.CLOSED,
    },
)

#: Order of the open dispute states (Stripe's words); unknown words rank lowest.
OPEN_DISPUTE_RANK: dict[str, int] = {
    "warning_needs_response": 1,
    "warning_under_review": 2,
    "needs_response": 3,
    "under_review": 4,
}

#: Stripe keeps an idempotency key for at least 24 hours; we stop trusting it an hour earlier.
IDEMPOTENCY_WINDOW = timedelta(hours=23)


def is_later_open_word(held: str, news: str) -> bool:
    """Whether Stripe's open-dispute word ``news`` comes after ``held``, the one we hold."""
    return OPEN_DISPUTE_RANK.get(news, 0) > OPEN_DISPUTE_RANK.get(held, 0)


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
