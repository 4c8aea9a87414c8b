"""Orders, their history, and the electronic invoice each delivered order carries.

The price, the voucher part and the co-payment are stored, not derived at read time, because
they are what the parties agreed to: ``voucher_part_fen`` is the hold the voucher service
granted, ``co_payment_fen = price_fen − voucher_part_fen`` what the SME pays. CHECK
constraints keep those three consistent in the database itself.

For the same reason the service's terms are copied onto the order when the SME accepts the
agreement (``agreed_*``: title, category, description, unit, lead time): the provider may edit
the service afterwards, but the order keeps what was agreed, and the delivery date is computed
from it. A CHECK makes an accepted order without its terms impossible.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from marketplace.einvoice import CONTENT_TYPES, InvoiceFileKind
from marketplace.enums import ServiceCategory
from marketplace.invoice_verification import Verification
from marketplace.orders.enums import Actor, DisputeStatus, InvoiceSource, OrderAction, OrderStatus
from providers.models import Provider, Service
from vouchers.models import Enterprise, Hold, Voucher


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"

    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    service_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("services.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[OrderStatus] = enum_column(OrderStatus, "status", default=OrderStatus.REQUESTED)
    #: Optimistic concurrency: bumped on every transition, checked against If-Match / version.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    request_note: Mapped[str] = mapped_column(sa.Text, default="")
    quantity: Mapped[int] = mapped_column(sa.Integer, default=1)
    #: The final price the provider quoted or accepted (fen); unknown until then.
    price_fen: Mapped[int | None] = money_column()
    quote_note: Mapped[str | None] = mapped_column(sa.Text)
    voucher_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("vouchers.id", ondelete="RESTRICT"), index=True
    )
    hold_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("voucher_holds.id", ondelete="RESTRICT"), unique=True
    )
    voucher_part_fen: Mapped[int] = money_column(default=0)
    co_payment_fen: Mapped[int | None] = money_column()
    agreement_accepted_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    delivery_note: Mapped[str | None] = mapped_column(sa.Text)
    #: Stored report file (random name under the upload directory, never under the web root).
    report_path: Mapped[str | None] = mapped_column(sa.String(300))
    report_filename: Mapped[str | None] = mapped_column(sa.String(255))
    #: After this date a delivered order confirms itself (and disputes are no longer opened).
    confirm_by: Mapped[date | None] = mapped_column(sa.Date)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    report_content_type: Mapped[str | None] = mapped_column(sa.String(40))
    #: Expected delivery date: payment date + the service's lead time (late → credit event).
    due_on: Mapped[date | None] = mapped_column(sa.Date)
    #: Co-payment owed back to the SME and not yet refunded (cancellation, upheld dispute).
    #: Stripe refunds are requested at once; bank-transfer refunds wait for finance. The
    #: payment listener lowers it as refunds succeed.
    refund_due_fen: Mapped[int] = money_column(default=0)
    #: How much an upheld dispute took off the invoiced price: invoice = price + reduction.
    price_reduction_fen: Mapped[int] = money_column(default=0)
    #: The service's terms as the SME accepted them (copied at acceptance; None before).
    agreed_title: Mapped[str | None] = mapped_column(sa.String(200))
    agreed_category: Mapped[ServiceCategory | None] = enum_column(
        ServiceCategory, "agreed_category", nullable=True
    )
    agreed_description: Mapped[str | None] = mapped_column(sa.Text)
    agreed_unit: Mapped[str | None] = mapped_column(sa.String(20))
    #: Days from payment to the expected delivery (``due_on``), as agreed.
    agreed_lead_time_days: Mapped[int | None] = mapped_column(sa.Integer)

    enterprise: Mapped[Enterprise] = relationship()
    provider: Mapped[Provider] = relationship()
    service: Mapped[Service] = relationship()
    voucher: Mapped[Voucher | None] = relationship()
    hold: Mapped[Hold | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship(back_populates="order", uselist=False)
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    dispute: Mapped[Dispute | None] = relationship(back_populates="order", uselist=False)

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("price_fen IS NULL OR price_fen > 0", name="price_positive"),
        sa.CheckConstraint("voucher_part_fen >= 0", name="voucher_part_non_negative"),
        sa.CheckConstraint(
            "price_fen IS NULL OR voucher_part_fen <= price_fen", name="voucher_part_within_price"
        ),
        sa.CheckConstraint(
            "co_payment_fen IS NULL OR (price_fen IS NOT NULL"
            " AND co_payment_fen = price_fen - voucher_part_fen)",
            name="co_payment_is_the_rest",
        ),
        sa.Index("ix_orders_status_confirm_by", "status", "confirm_by"),
        sa.CheckConstraint("refund_due_fen >= 0", name="refund_due_non_negative"),
        sa.CheckConstraint("price_reduction_fen >= 0", name="price_reduction_non_negative"),
        sa.CheckConstraint(
            "agreement_accepted_at IS NULL OR (agreed_title IS NOT NULL"
            " AND agreed_category IS NOT NULL AND agreed_description IS NOT NULL"
            " AND agreed_unit IS NOT NULL AND agreed_lead_time_days IS NOT NULL)",
            name="accepted_has_terms",
        ),
        sa.CheckConstraint(
            "agreed_lead_time_days IS NULL OR agreed_lead_time_days > 0",
            name="agreed_lead_time_positive",
        ),
    )

    @property
    def payment_reference(self) -> str:
        """How the payments module knows this order's co-payment."""
        return f"order:{self.id}"

    @property
    def agreed_terms(self) -> dict[str, Any] | None:
        """The service's terms as accepted (None before the agreement)."""
        if self.agreement_accepted_at is None or self.agreed_lead_time_days is None:
            return None
        return {
            "title": self.agreed_title,
            "category": self.agreed_category,
            "description": self.agreed_description,
            "unit": self.agreed_unit,
            "lead_time_days": self.agreed_lead_time_days,
            "accepted_at": self.agreement_accepted_at,
        }

    @property
    def terms_changed_since(self) -> bool:
        """Whether the provider has changed the service's terms since the agreement."""
        service = self.service
        return self.agreed_terms is not None and (
            self.agreed_title,
            self.agreed_category,
            self.agreed_description,
            self.agreed_unit,
            self.agreed_lead_time_days,
        ) != (
            service.title,
            service.category,
            service.description,
            service.unit,
            service.lead_time_days,
        )

    def take_terms(self, service: Service) -> None:
        """Copy the service's current terms onto the order (at acceptance)."""
        self.agreed_title = service.title
        self.agreed_category = service.category
        self.agreed_description = service.description
        self.agreed_unit = service.unit
        self.agreed_lead_time_days = service.lead_time_days

    @property
    def voucher_lapsed_fen(self) -> int:
        """The voucher part that lapsed instead of being captured (the order was confirmed
        after the voucher's claim deadline), as its history records it; 0 normally."""
        return sum(int((e.detail or {}).get("voucher_lapsed_fen", 0)) for e in self.events)


class OrderEvent(IdMixin, Base):
    """One step in an order's history. Append-only: an order with history cannot be deleted
    (RESTRICT), so its events can never vanish with it."""

    __tablename__ = "order_events"

    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[Actor] = enum_column(Actor, "actor")
    actor_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    action: Mapped[OrderAction] = enum_column(OrderAction, "action")
    from_status: Mapped[OrderStatus] = enum_column(OrderStatus, "from_status")
    to_status: Mapped[OrderStatus] = enum_column(OrderStatus, "to_status")
    note: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")


class Invoice(IdMixin, Base):
    """The electronic invoice (电子发票) for a delivered order (POLICY.md rule 8).

    ``UNIQUE(code, number)`` makes "one invoice, one claim, ever" a database fact: an invoice
    can be attached to one order only, platform-wide, and an order is claimed at most once.
    """

    __tablename__ = "invoices"

    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    #: 发票代码 (12 digits on VAT e-invoices; fully digital invoices have none, hence optional).
    code: Mapped[str] = mapped_column(sa.String(20), default="")
    #: 发票号码 (8 digits, or 20 on fully digital invoices).
    number: Mapped[str] = mapped_column(sa.String(20))
    issued_on: Mapped[date] = mapped_column(sa.Date)
    amount_fen: Mapped[int] = money_column()
    #: Buyer's and seller's taxpayer ids (纳税人识别号): the unified social credit codes.
    buyer_taxpayer_id: Mapped[str] = mapped_column(sa.String(20))
    seller_taxpayer_id: Mapped[str] = mapped_column(sa.String(20))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Read from the 数电发票 file, or typed in for a paper-era invoice (checked by hand).
    source: Mapped[InvoiceSource] = enum_column(
        InvoiceSource, "source", default=InvoiceSource.TYPED
    )
    #: From the file: the totals without tax and the tax (amount_fen is the total with tax).
    amount_without_tax_fen: Mapped[int | None] = money_column()
    tax_fen: Mapped[int | None] = money_column()
    #: The item lines' tax rates as printed, e.g. "6%" (several joined by commas).
    tax_rates: Mapped[str | None] = mapped_column(sa.String(60))
    seller_name: Mapped[str | None] = mapped_column(sa.String(200))
    buyer_name: Mapped[str | None] = mapped_column(sa.String(200))
    #: The item lines (name, quantity, unit price, amount_fen, tax rate, tax_fen).
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    #: The tax authority's answer (marketplace.invoice_verification) and when it was given.
    verification: Mapped[Verification] = enum_column(
        Verification, "verification", default=Verification.UNCHECKED
    )
    verified_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="invoice")
    files: Mapped[list[InvoiceFile]] = relationship(
        back_populates="invoice", order_by="InvoiceFile.id", lazy="selectin"
    )

    __table_args__ = (
        sa.UniqueConstraint("code", "number"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "tax_fen IS NULL OR amount_without_tax_fen + tax_fen = amount_fen",
            name="tax_adds_up",
        ),
        sa.CheckConstraint(
            "source <> 'file' OR (tax_fen IS NOT NULL AND items IS NOT NULL)",
            name="file_has_tax",
        ),
    )


class RedLetterInvoice(IdMixin, Base):
    """A red-letter (负数) invoice: it reverses the invoice numbered ``reverses_number``.

    Anyone may upload one (the SME who received it, the provider, staff). It is kept even when
    the reversed invoice is not (yet) on the platform, so that invoice can never be used here;
    when it is, the claim line is frozen (the pre-check fails ``invoice_not_reversed``) and a
    paid one raises a recovery (:mod:`marketplace.settlement.reversals`).
    """

    __tablename__ = "red_letter_invoices"

    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    reverses_number: Mapped[str] = mapped_column(sa.String(20), index=True)
    issued_on: Mapped[date] = mapped_column(sa.Date)
    total_fen: Mapped[int] = money_column()
    tax_fen: Mapped[int] = money_column()
    seller_taxpayer_id: Mapped[str] = mapped_column(sa.String(20))
    buyer_taxpayer_id: Mapped[str] = mapped_column(sa.String(20))
    items: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    #: The reversed invoice, when it was on the platform at upload.
    invoice_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("invoices.id", ondelete="RESTRICT"), index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    invoice: Mapped[Invoice | None] = relationship()

    __table_args__ = (sa.CheckConstraint("total_fen < 0", name="negative"),)


class InvoiceFile(IdMixin, Base):
    """An uploaded invoice file (XML, OFD or PDF), of a delivered invoice or a red-letter one.

    ``sha256`` is UNIQUE platform-wide: the same file can never be uploaded twice, by anyone.
    """

    __tablename__ = "invoice_files"

    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[InvoiceFileKind] = enum_column(InvoiceFileKind, "kind")
    stored_name: Mapped[str] = mapped_column(sa.String(80))
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    invoice_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("invoices.id", ondelete="RESTRICT"), index=True
    )
    red_letter_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("red_letter_invoices.id", ondelete="RESTRICT"), index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    invoice: Mapped[Invoice | None] = relationship(back_populates="files")

    __table_args__ = (
        sa.CheckConstraint("(invoice_id IS NULL) <> (red_letter_id IS NULL)", name="one_owner"),
        sa.CheckConstraint("size_bytes > 0", name="not_empty"),
    )

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]


class Dispute(IdMixin, TimestampMixin, Base):
    """An SME's complaint about a delivery (POLICY.md rule 10), mediated by a reviewer.

    One per order: the UNIQUE key makes a second dispute impossible even under a race. The
    remedy amounts record what the decision moved: ``refund_fen`` of the co-payment back to
    the SME and ``voucher_restored_fen`` of the voucher part back to the voucher.
    """

    __tablename__ = "order_disputes"

    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    status: Mapped[DisputeStatus] = enum_column(
        DisputeStatus, "status", default=DisputeStatus.OPEN, index=True
    )
    #: The order's status when the dispute was opened (delivered, confirmed or claimed).
    opened_from: Mapped[OrderStatus] = enum_column(OrderStatus, "opened_from")
    reason: Mapped[str] = mapped_column(sa.Text)
    opened_by_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    mediator_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    refund_fen: Mapped[int] = money_column(default=0)
    voucher_restored_fen: Mapped[int] = money_column(default=0)

    order: Mapped[Order] = relationship(back_populates="dispute")
    messages: Mapped[list[DisputeMessage]] = relationship(
        back_populates="dispute", order_by="DisputeMessage.id"
    )
    documents: Mapped[list[DisputeDocument]] = relationship(
        back_populates="dispute", order_by="DisputeDocument.id"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "refund_fen >= 0 AND voucher_restored_fen >= 0", name="remedy_non_negative"
        ),
        sa.CheckConstraint(
            "(status = 'open' AND decided_at IS NULL) OR (status <> 'open' AND decided_at IS NOT NULL)",
            name="decision_consistent",
        ),
    )


class DisputeMessage(IdMixin, Base):
    """One message in a mediation: from the SME, the provider or the mediator. Append-only."""

    __tablename__ = "order_dispute_messages"

    dispute_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("order_disputes.id", ondelete="RESTRICT"), index=True
    )
    party: Mapped[Actor] = enum_column(Actor, "party")
    author_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    dispute: Mapped[Dispute] = relationship(back_populates="messages")


class DisputeDocument(IdMixin, Base):
    """Evidence for a mediation (PDF or image, checked by content, stored outside the web root)."""

    __tablename__ = "order_dispute_documents"

    dispute_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("order_disputes.id", ondelete="RESTRICT"), index=True
    )
    party: Mapped[Actor] = enum_column(Actor, "party")
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    dispute: Mapped[Dispute] = relationship(back_populates="documents")
