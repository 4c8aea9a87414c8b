"""Settlement claims (兑付申请): a provider's bundle of confirmed orders, line by line.

Database facts that keep the money rules even if code were wrong:

* ``claim_lines.order_id`` and ``claim_lines.invoice_id`` are UNIQUE: an order, and the
  invoice it carries, is in one claim line ever. A line sent back for changes is resubmitted
  in place, not claimed again.
* ``claimed_invoices`` remembers every invoice (code and number, normalised) that was ever
  submitted in a claim, UNIQUE, and rows are only inserted: even an invoice that was later
  corrected on its order can never be claimed a second time anywhere on the platform.
* A line is in a payout exactly while it is ``in_payout`` or ``paid`` (CHECK).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from marketplace.orders.models import Invoice, Order
from providers.models import Provider
from providers.settlement_enums import ClaimAction, ClaimLineStatus, ClaimStatus
from vouchers.models import Programme

if TYPE_CHECKING:
    from providers.payout_models import PayoutLine


def _user_fk() -> Any:
    return mapped_column(BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"))


class Claim(IdMixin, TimestampMixin, Base):
    """One submission by a provider. Its status is derived from its lines."""

    __tablename__ = "claims"

    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[ClaimStatus] = enum_column(
        ClaimStatus, "status", default=ClaimStatus.IN_REVIEW, index=True
    )
    note: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_by_id: Mapped[int | None] = _user_fk()
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Optimistic concurrency: bumped by every decision (If-Match / ``version``).
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    provider: Mapped[Provider] = relationship(lazy="joined")
    lines: Mapped[list[ClaimLine]] = relationship(
        back_populates="claim", order_by="ClaimLine.id", lazy="selectin"
    )

    @property
    def amount_fen(self) -> int:
        """What the claim asks for: the voucher parts of its lines still in play."""
        return sum(line.amount_fen for line in self.lines if line.status.value != "rejected")

    @property
    def reference(self) -> str:
        return f"DF{self.id:08d}"


class ClaimLine(IdMixin, TimestampMixin, Base):
    """One order of a claim, with its invoice snapshot, pre-check checklist and decisions."""

    __tablename__ = "claim_lines"

    claim_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("claims.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    invoice_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("invoices.id", ondelete="RESTRICT"), unique=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[ClaimLineStatus] = enum_column(
        ClaimLineStatus, "status", default=ClaimLineStatus.PENDING_REVIEW, index=True
    )
    #: The voucher part claimed: what the order's captured hold put in provider payable.
    amount_fen: Mapped[int] = money_column()
    order_price_fen: Mapped[int] = money_column()
    invoice_code: Mapped[str] = mapped_column(sa.String(20), default="")
    invoice_number: Mapped[str] = mapped_column(sa.String(20))
    invoice_amount_fen: Mapped[int] = money_column()
    invoice_issued_on: Mapped[date] = mapped_column(sa.Date)
    #: The pre-check's items (rule, passed, code, detail), refreshed at every decision.
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    precheck_passed: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: First submission day in China: the redemption deadline is judged against it.
    submitted_on: Mapped[date] = mapped_column(sa.Date)
    reviewed_by_id: Mapped[int | None] = _user_fk()
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    finance_by_id: Mapped[int | None] = _user_fk()
    finance_at: Mapped[datetime | None]
    finance_note: Mapped[str | None] = mapped_column(sa.Text)
    #: The reason of the latest rejection or request for changes.
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    payout_line_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("payout_lines.id", ondelete="RESTRICT"), index=True
    )

    claim: Mapped[Claim] = relationship(back_populates="lines")
    order: Mapped[Order] = relationship(lazy="joined")
    invoice: Mapped[Invoice] = relationship()
    programme: Mapped[Programme] = relationship()
    payout_line: Mapped[PayoutLine | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "amount_fen > 0 AND amount_fen <= order_price_fen", name="amount_within_price"
        ),
        sa.CheckConstraint(
            "order_price_fen > 0 AND invoice_amount_fen > 0", name="snapshot_positive"
        ),
        sa.CheckConstraint(
            "(status IN ('in_payout', 'paid')) = (payout_line_id IS NOT NULL)",
            name="payout_line_matches_status",
        ),
        sa.CheckConstraint(
            "status NOT IN ('reviewed', 'approved', 'in_payout', 'paid')"
            " OR reviewed_by_id IS NOT NULL",
            name="reviewed_has_reviewer",
        ),
        sa.CheckConstraint(
            "finance_by_id IS NULL OR reviewed_by_id IS NULL OR finance_by_id <> reviewed_by_id",
            name="separation_of_duties",
        ),
    )

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [item for item in self.checklist if not item.get("passed")]


class ClaimedInvoice(Base):
    """Every invoice ever submitted in a claim, by its normalised code and number.

    Insert-only; the primary key is the invoice key itself, so a second claim of the same
    invoice fails in the database even when two providers race for it.
    """

    __tablename__ = "claimed_invoices"

    code_key: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    number_key: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    claim_line_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("claim_lines.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimEvent(IdMixin, Base):
    """One step in a claim's history (a line's decision, resubmission, payout). Append-only."""

    __tablename__ = "claim_events"

    claim_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("claims.id", ondelete="RESTRICT"), index=True
    )
    line_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("claim_lines.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[ClaimAction] = enum_column(ClaimAction, "action")
    from_status: Mapped[ClaimLineStatus | None] = enum_column(ClaimLineStatus, "from_status")
    to_status: Mapped[ClaimLineStatus | None] = enum_column(ClaimLineStatus, "to_status")
    actor_id: Mapped[int | None] = _user_fk()
    note: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


# The payout tables are referenced by claim lines; register them whenever claims are imported.
from providers import payout_models  # noqa: E402, F401
