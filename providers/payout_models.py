"""Payouts to providers: batches of bank payments built from approved claim lines.

One batch has one payment line per provider (its settlement bank account, snapshotted when
the batch is built, and the total); the line's items say which claim lines it pays. The bank
confirms each line as paid or failed. Database facts:

* one line per provider per batch (UNIQUE), one item per claim line per payment line;
* a bank transaction id is used by one payment line only (UNIQUE), so a confirmation file
  that reuses a transaction for two lines is refused;
* a paid line has its bank transaction id and value date, a pending line no confirmation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, enum_column, money_column, utcnow
from providers.models import Provider
from providers.settlement_enums import PayoutBatchStatus, PayoutLineStatus


def _user_fk() -> Any:
    return mapped_column(BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"))


class PayoutBatch(IdMixin, Base):
    __tablename__ = "payout_batches"

    status: Mapped[PayoutBatchStatus] = enum_column(
        PayoutBatchStatus, "status", default=PayoutBatchStatus.DRAFT, index=True
    )
    total_fen: Mapped[int] = money_column()
    line_count: Mapped[int] = mapped_column(sa.Integer)
    created_by_id: Mapped[int | None] = _user_fk()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_by_id: Mapped[int | None] = _user_fk()
    sent_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    lines: Mapped[list[PayoutLine]] = relationship(
        back_populates="batch", order_by="PayoutLine.id", lazy="selectin"
    )

    __table_args__ = (
        sa.CheckConstraint("total_fen > 0 AND line_count > 0", name="not_empty"),
        sa.CheckConstraint("status = 'draft' OR sent_at IS NOT NULL", name="sent_has_time"),
    )

    @property
    def reference(self) -> str:
        return f"PB{self.id:08d}"


class PayoutLine(IdMixin, Base):
    """One bank payment: one provider, one account, one amount."""

    __tablename__ = "payout_lines"

    batch_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("payout_batches.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    provider_name: Mapped[str] = mapped_column(sa.String(200))
    bank_account_name: Mapped[str] = mapped_column(sa.String(200))
    bank_name: Mapped[str] = mapped_column(sa.String(200))
    bank_account_number: Mapped[str] = mapped_column(sa.String(40))
    amount_fen: Mapped[int] = money_column()
    status: Mapped[PayoutLineStatus] = enum_column(
        PayoutLineStatus, "status", default=PayoutLineStatus.PENDING, index=True
    )
    bank_transaction_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    #: The bank's value date for the payment (paid) or the failure (failed).
    value_date: Mapped[date | None] = mapped_column(sa.Date)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(300))
    confirmed_by_id: Mapped[int | None] = _user_fk()
    confirmed_at: Mapped[datetime | None]

    batch: Mapped[PayoutBatch] = relationship(back_populates="lines")
    provider: Mapped[Provider] = relationship()
    items: Mapped[list[PayoutItem]] = relationship(
        back_populates="payout_line", order_by="PayoutItem.id", lazy="selectin"
    )

    __table_args__ = (
        sa.UniqueConstraint("batch_id", "provider_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "(status = 'pending' AND confirmed_at IS NULL AND value_date IS NULL)"
            " OR (status <> 'pending' AND confirmed_at IS NOT NULL AND value_date IS NOT NULL)",
            name="confirmation_consistent",
        ),
        sa.CheckConstraint(
            "status <> 'paid' OR bank_transaction_id IS NOT NULL", name="paid_has_transaction"
        ),
    )

    @property
    def reference(self) -> str:
        """Quoted in the bank file's remittance field and accepted back in confirmations."""
        return f"VMPAY{self.id:08d}"


class PayoutItem(IdMixin, Base):
    """Which claim line (order, programme, amount) a payment line pays. Insert-only."""

    __tablename__ = "payout_items"

    payout_line_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("payout_lines.id", ondelete="RESTRICT"), index=True
    )
    claim_line_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("claim_lines.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT")
    )
    amount_fen: Mapped[int] = money_column()

    payout_line: Mapped[PayoutLine] = relationship(back_populates="items")

    __table_args__ = (
        sa.UniqueConstraint("payout_line_id", "claim_line_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


# Make sure the claim tables are registered whenever the payout tables are imported, and the
# payout side of `flask ledger verify` with them.
from providers import claim_models, ledger_checks  # noqa: E402, F401
