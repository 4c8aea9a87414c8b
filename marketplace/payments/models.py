"""Payment tables: one row per payable thing, its refunds, and the webhook events processed.

The database itself guards the money rules, so a bug in a service cannot break them:

* amounts are integer fen, CHECKed positive; the refunded total is CHECKed ``<= amount``;
* at most one live (not canceled) payment per ``reference``: a partial unique index, so two
  concurrent "pay this order" requests cannot both create a payment;
* one row per gateway object: ``(gateway, external_id)`` is unique for payments and refunds;
* one row per webhook event id: a replayed event fails on the unique key and is not applied;
* one row per gateway dispute (chargeback), ``(gateway, external_id)`` unique; the payment's
  ``disputed_fen`` is the sum of its open and lost disputes, CHECKed within the amount.

Refunds are their own rows and are never deleted or re-priced: only their status (pending →
succeeded / failed) and gateway id are filled in when the gateway answers.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from marketplace.payments.enums import (
    GatewayKind,
    PaymentDisputeStatus,
    PaymentStatus,
    RefundStatus,
    WebhookOutcome,
)

CURRENCY = "CNY"


def remittance_code(payment_id: int) -> str:
    """What a payer quotes on a bank transfer so finance can match it to the payment."""
    return f"VM{payment_id:08d}"


#: Disputes whose amount the platform cannot count as received: open ones may still take the
#: money back, lost ones have.
DISPUTE_WITHHOLDS = frozenset({PaymentDisputeStatus.OPEN, PaymentDisputeStatus.LOST})


class Payment(IdMixin, TimestampMixin, Base):
    """Money owed for one payable thing, e.g. an order's co-payment (``reference="order:42"``)."""

    __tablename__ = "payments"

    #: What is being paid, as ``"<kind>:<id>"``; the owning module links back through it.
    reference: Mapped[str] = mapped_column(sa.String(100), index=True)
    description: Mapped[str] = mapped_column(sa.String(200))
    amount_fen: Mapped[int] = money_column()
    currency: Mapped[str] = mapped_column(sa.String(3), default=CURRENCY)
    gateway: Mapped[GatewayKind] = enum_column(GatewayKind, "payment_gateway")
    status: Mapped[PaymentStatus] = enum_column(
        PaymentStatus, "payment_status", default=PaymentStatus.PENDING
    )
    #: Sum of the succeeded refunds, kept in step by the services (CHECKed against amount).
    refunded_fen: Mapped[int] = money_column(default=0)
    #: Sum of the open and lost chargebacks (:class:`PaymentDispute`), kept in step by the
    #: services: money the payer's bank has taken back, or may still take back.
    disputed_fen: Mapped[int] = money_column(default=0)
    #: The gateway's id: a Stripe PaymentIntent id, or the bank-transfer reference (offline).
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    #: Who pays (receipts go there); None for payments started by the system.
    payer_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: Finance officer who recorded an offline receipt.
    recorded_by_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    succeeded_at: Mapped[datetime | None]
    failure_message: Mapped[str | None] = mapped_column(sa.String(500))
    #: Optimistic concurrency: every UPDATE checks and bumps it (API clients send If-Match).
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    refunds: Mapped[list[PaymentRefund]] = relationship(
        back_populates="payment", order_by="PaymentRefund.id", lazy="selectin"
    )
    disputes: Mapped[list[PaymentDispute]] = relationship(
        back_populates="payment", order_by="PaymentDispute.id", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("currency = 'CNY'", name="currency_cny"),
        sa.CheckConstraint("refunded_fen >= 0", name="refunded_non_negative"),
        sa.CheckConstraint("refunded_fen <= amount_fen", name="refunded_within_amount"),
        sa.CheckConstraint(
            "refunded_fen = 0 OR status = 'succeeded'", name="refunds_only_when_paid"
        ),
        sa.CheckConstraint(
            "status != 'succeeded' OR succeeded_at IS NOT NULL", name="succeeded_has_time"
        ),
        sa.CheckConstraint("disputed_fen >= 0", name="disputed_non_negative"),
        sa.CheckConstraint("disputed_fen <= amount_fen", name="disputed_within_amount"),
        sa.CheckConstraint(
            "disputed_fen = 0 OR status = 'succeeded'", name="disputes_only_when_paid"
        ),
        sa.UniqueConstraint("gateway", "external_id", name="uq_payments_gateway_external_id"),
        sa.Index(
            "uq_payments_live_reference",
            "reference",
            unique=True,
            sqlite_where=sa.text("status != 'canceled'"),
            postgresql_where=sa.text("status != 'canceled'"),
        ),
    )

    @property
    def refundable_fen(self) -> int:
        """What may still be refunded: paid minus succeeded and in-flight refunds, minus open
        or lost chargebacks (never below zero)."""
        if self.status is not PaymentStatus.SUCCEEDED:
            return 0
        in_flight = sum(r.amount_fen for r in self.refunds if r.status is RefundStatus.PENDING)
        return max(0, self.amount_fen - self.refunded_fen - in_flight - self.disputed_fen)

    @property
    def remittance_code(self) -> str:
        return remittance_code(self.id)


class PaymentRefund(IdMixin, Base):
    """One refund of (part of) a payment. Inserted once; amount and payment never change."""

    __tablename__ = "payment_refunds"

    payment_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    amount_fen: Mapped[int] = money_column()
    gateway: Mapped[GatewayKind] = enum_column(GatewayKind, "refund_gateway")
    status: Mapped[RefundStatus] = enum_column(
        RefundStatus, "refund_status", default=RefundStatus.PENDING
    )
    #: Stripe refund id, or the bank reference of the refund transfer (offline).
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    reason: Mapped[str] = mapped_column(sa.String(500))
    actor_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    failure_message: Mapped[str | None] = mapped_column(sa.String(500))

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "status = 'pending' OR completed_at IS NOT NULL", name="completed_has_time"
        ),
        sa.UniqueConstraint(
            "gateway", "external_id", name="uq_payment_refunds_gateway_external_id"
        ),
    )


class PaymentDispute(IdMixin, TimestampMixin, Base):
    """A chargeback of (part of) a payment, as the gateway reports it (Stripe: a Dispute).

    Only the gateway creates and decides these; we record them from webhooks and syncs. The
    status moves forward only (:data:`marketplace.payments.rules.DISPUTE`): an open dispute
    may progress or close; a closed one (won, lost, closed) never changes again.
    """

    __tablename__ = "payment_disputes"

    payment_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    gateway: Mapped[GatewayKind] = enum_column(GatewayKind, "dispute_gateway")
    #: The gateway's dispute id (Stripe ``dp_…``).
    external_id: Mapped[str] = mapped_column(sa.String(100))
    #: The disputed charge (Stripe ``ch_…``/``py_…``), when the gateway names it.
    charge_external_id: Mapped[str | None] = mapped_column(sa.String(100))
    amount_fen: Mapped[int] = money_column()
    status: Mapped[PaymentDisputeStatus] = enum_column(PaymentDisputeStatus, "dispute_status")
    #: The gateway's own status word (Stripe: ``needs_response``, ``under_review``, ``won`` …).
    gateway_status: Mapped[str] = mapped_column(sa.String(40))
    #: The gateway's reason code (Stripe: ``fraudulent``, ``product_not_received`` …).
    reason: Mapped[str | None] = mapped_column(sa.String(100))
    #: When the payer's bank opened it (the gateway's clock).
    opened_at: Mapped[datetime]
    #: When we learned that it closed (won, lost or closed); None while open.
    closed_at: Mapped[datetime | None]

    payment: Mapped[Payment] = relationship(back_populates="disputes")

    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_has_time"),
        sa.UniqueConstraint(
            "gateway", "external_id", name="uq_payment_disputes_gateway_external_id"
        ),
    )

    @property
    def withholds(self) -> bool:
        """Whether its amount is not counted as received (open or lost)."""
        return self.status in DISPUTE_WITHHOLDS


class WebhookEvent(IdMixin, Base):
    """A gateway event that was processed. The unique event id makes processing exactly-once."""

    __tablename__ = "payment_webhook_events"

    gateway: Mapped[GatewayKind] = enum_column(GatewayKind, "webhook_gateway")
    event_id: Mapped[str] = mapped_column(sa.String(100))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    #: When the gateway says the event happened (its own clock).
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payment_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    outcome: Mapped[WebhookOutcome] = enum_column(WebhookOutcome, "webhook_outcome")
    note: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (sa.UniqueConstraint("gateway", "event_id"),)
