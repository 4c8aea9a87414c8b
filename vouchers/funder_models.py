"""Funders and their shares of a programme's voucher part ("use anywhere, pay at home").

A *funder* is a treasury (省/州市/县区财政) identified by its GB/T 2260 division code, with the
bank details its payout files name. A programme's *shares* say who pays which part of every
order's voucher part, in basis points summing to 10,000; a share may name a funder or "the
SME's home prefecture/county", resolved from the enterprise's region when the hold is placed.
The resolved split is recorded per hold (:class:`HoldFunderPart`), so captures, releases and
reversals later follow the split the order was agreed under whatever changes since.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from vouchers.enums import FunderLevel

__all__ = ["Funder", "FunderBudget", "HoldFunderPart", "ProgrammeShare"]


class Funder(IdMixin, TimestampMixin, Base):
    """One treasury. Its level is that of its division code (530000 province, 530100
    prefecture, 530102 county): one funder per division."""

    __tablename__ = "funders"

    name: Mapped[str] = mapped_column(sa.String(200))
    region_code: Mapped[str] = mapped_column(sa.String(6), unique=True)
    level: Mapped[FunderLevel] = enum_column(FunderLevel, "level")
    #: Where the treasury pays from (the payment file's payer): account name, bank, number.
    bank_account_name: Mapped[str | None] = mapped_column(sa.String(200))
    bank_name: Mapped[str | None] = mapped_column(sa.String(200))
    bank_account_number: Mapped[str | None] = mapped_column(sa.String(40))
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")

    __table_args__ = (sa.CheckConstraint("length(region_code) = 6", name="region_code_length"),)


class ProgrammeShare(IdMixin, Base):
    """One funder's share of a programme's voucher part. Exactly one of ``funder_id`` (a named
    treasury) and ``home_level`` (the SME's home prefecture or county) is set."""

    __tablename__ = "programme_funder_shares"

    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    #: 1, 2, …: the order the split's remainder rule follows (ties go to the lower position).
    position: Mapped[int] = mapped_column(sa.Integer)
    share_bps: Mapped[int] = mapped_column(sa.Integer)
    funder_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("funders.id", ondelete="RESTRICT"), index=True
    )
    home_level: Mapped[FunderLevel | None] = enum_column(FunderLevel, "home_level", nullable=True)

    funder: Mapped[Funder | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("programme_id", "position"),
        sa.CheckConstraint("share_bps > 0 AND share_bps <= 10000", name="share_range"),
        sa.CheckConstraint("position > 0", name="position_positive"),
        sa.CheckConstraint("(funder_id IS NULL) <> (home_level IS NULL)", name="funder_or_home"),
        sa.CheckConstraint(
            "home_level IS NULL OR home_level <> 'province'", name="home_below_province"
        ),
    )


class FunderBudget(IdMixin, Base):
    """What one funder grants a co-funded programme; the ledger's funder leg holds it
    (``funder_granted → funder_available``), and every hold takes the funder's part from it."""

    __tablename__ = "programme_funder_budgets"

    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    funder_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("funders.id", ondelete="RESTRICT"), index=True
    )
    budget_fen: Mapped[int] = money_column()
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    funder: Mapped[Funder] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("programme_id", "funder_id"),
        sa.CheckConstraint("budget_fen >= 0", name="budget_non_negative"),
    )


class HoldFunderPart(IdMixin, Base):
    """One funder's part of one hold, fixed when the hold is placed. The parts of a hold add
    up to its amount, their captured and released parts to its captured and released amounts
    (``flask ledger verify``: ``funder_parts``)."""

    __tablename__ = "hold_funder_parts"

    hold_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("voucher_holds.id", ondelete="RESTRICT"), index=True
    )
    funder_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("funders.id", ondelete="RESTRICT"), index=True
    )
    #: The position of the (first) share this part came from.
    position: Mapped[int] = mapped_column(sa.Integer)
    share_bps: Mapped[int] = mapped_column(sa.Integer)
    held_fen: Mapped[int] = money_column()
    captured_fen: Mapped[int] = money_column(default=0)
    released_fen: Mapped[int] = money_column(default=0)

    funder: Mapped[Funder] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("hold_id", "funder_id"),
        sa.CheckConstraint(
            "held_fen >= 0 AND captured_fen >= 0 AND released_fen >= 0", name="parts_non_negative"
        ),
        sa.CheckConstraint("captured_fen + released_fen <= held_fen", name="resolved_within_held"),
    )
