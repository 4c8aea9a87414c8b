"""The ledger's tables: accounts with cached balances, transactions, entries.

Transactions and entries are append-only: the migration installs database triggers that
refuse UPDATE and DELETE on both tables (SQLite and PostgreSQL), and no code path updates
them. Cached balances carry ``CHECK (balance_fen >= 0)`` and are recomputable from entries.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, enum_column, money_column, utcnow
from vouchers.enums import AccountKind, Side, TransactionKind

_VOUCHER_KINDS = "('voucher_balance', 'voucher_held')"
_PROVIDER_KINDS = "('provider_payable', 'provider_paid')"
_FUNDER_KINDS = (
    "('funder_granted', 'funder_available', 'funder_held', 'funder_spent', 'funder_paid')"
)


class LedgerAccount(IdMixin, Base):
    """One account. Every account belongs to a programme, so each programme's books close."""

    __tablename__ = "ledger_accounts"

    #: Natural key, e.g. ``budget_available:p3``, ``voucher_held:p3:v17``.
    code: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[AccountKind] = enum_column(AccountKind, "kind")
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    voucher_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("vouchers.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    #: The funder of a funder-leg account (a co-funded programme's per-funder budget). No ON
    #: DELETE (a funder with accounts cannot go anyway): SQLite cannot reflect the options of a
    #: foreign key added in place, as migration 0011 found.
    funder_id: Mapped[int | None] = mapped_column(BigInt, sa.ForeignKey("funders.id"), index=True)
    balance_fen: Mapped[int] = money_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("balance_fen >= 0", name="balance_non_negative"),
        sa.CheckConstraint(
            f"(kind IN {_VOUCHER_KINDS}) = (voucher_id IS NOT NULL)",
            name="voucher_kind_has_voucher",
        ),
        sa.CheckConstraint(
            f"(kind IN {_PROVIDER_KINDS}) = (provider_id IS NOT NULL)",
            name="provider_kind_has_provider",
        ),
        sa.CheckConstraint(
            f"(kind IN {_FUNDER_KINDS}) = (funder_id IS NOT NULL)",
            name="funder_kind_has_funder",
        ),
    )


class LedgerTransaction(IdMixin, Base):
    """One balanced movement, posted once under its idempotency key."""

    __tablename__ = "ledger_transactions"

    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[TransactionKind] = enum_column(TransactionKind, "kind")
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    voucher_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("vouchers.id", ondelete="RESTRICT"), index=True
    )
    hold_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("voucher_holds.id", ondelete="RESTRICT"), index=True
    )
    #: Set on the one transaction that captures or releases a hold; UNIQUE, so the database
    #: itself refuses to resolve a hold twice.
    resolves_hold_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("voucher_holds.id", ondelete="RESTRICT"), unique=True
    )
    memo: Mapped[str] = mapped_column(sa.String(300), default="")
    actor_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    posted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    entries: Mapped[list[LedgerEntry]] = relationship(
        order_by="LedgerEntry.id", back_populates="transaction"
    )


class LedgerEntry(IdMixin, Base):
    """One debit or credit of one account, always a positive number of fen."""

    __tablename__ = "ledger_entries"

    transaction_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), index=True
    )
    side: Mapped[Side] = enum_column(Side, "side")
    amount_fen: Mapped[int] = money_column()

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship(lazy="joined")

    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)
