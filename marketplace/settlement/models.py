"""Settlement's tables: claims (兑付申请), a provider's bundle of confirmed orders line by line,
and the payouts that pay approved lines by bank transfer.

Database facts that keep the money rules even if code were wrong:

* ``claim_lines.order_id`` and ``claim_lines.invoice_id`` are UNIQUE: an order, and the
  invoice it carries, is in one claim line ever. A line sent back for changes is resubmitted
  in place, not claimed again.
* ``claimed_invoices`` remembers every invoice (code and number, normalised) that was ever
  submitted in a claim, UNIQUE, and rows are only inserted: even an invoice that was later
  corrected on its order can never be claimed a second time anywhere on the platform.
* A line is in a payout exactly while it is ``in_payout`` or ``paid`` (CHECK).

A payout batch belongs to one paying treasury (``funder_id``; NULL for programmes that name
no funder and pay from their own budget) and names its account (snapshotted when the batch is
built); it has one payment line per provider (the provider's settlement bank account,
snapshotted too, and the total); the line's items say which claim lines — which funder's part
of each (``payout_items.funder_id``) — it pays. A co-funded claim line is paid by one item per
funder part, each in its own funder's batch. The bank confirms each line as paid or failed:

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

from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from marketplace.orders.models import Invoice, Order, RedLetterInvoice
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    ClaimStatus,
    PayoutBatchStatus,
    PayoutLineStatus,
)
from providers.models import Provider
from vouchers.enums import FreezeStatus
from vouchers.funder_models import Funder
from vouchers.models import Programme


def _user_fk() -> Any:
    return mapped_column(BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"))


def _kept_user_fk() -> Any:
    """A user who approved or built a payout stays (no ON DELETE): the four-eyes record must
    keep both names. Also, SQLite cannot reflect the options of a column added in place."""
    return mapped_column(BigInt, sa.ForeignKey("users.id"))


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

    #: Lets a line's submission be recorded before the line is inserted (it has no id yet).
    line: Mapped[ClaimLine | None] = relationship()


class InvoiceRecovery(IdMixin, Base):
    """A paid claim line whose invoice was later reversed by a red-letter invoice: the
    voucher part paid for it is to be recovered from the provider. One per line (UNIQUE);
    insert-only."""

    __tablename__ = "invoice_recoveries"

    claim_line_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("claim_lines.id", ondelete="RESTRICT"), unique=True
    )
    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT")
    )
    red_letter_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("red_letter_invoices.id", ondelete="RESTRICT"), index=True
    )
    amount_fen: Mapped[int] = money_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    claim_line: Mapped[ClaimLine] = relationship()
    red_letter: Mapped[RedLetterInvoice] = relationship()

    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)


# --------------------------------------------------------------------------- payouts


class PayoutBatch(IdMixin, Base):
    """A set of payment lines sent to the bank together.

    Four eyes (``four_eyes``, true for every batch built since migration 0011): the officer who
    built it neither sends it nor imports its confirmation, and a batch above
    ``PAYOUT_SECOND_APPROVAL_ABOVE_FEN`` (``needs_second_approval``, fixed when it is built)
    is approved by a second officer before it is sent by a third. The CHECKs below hold it in
    the database as well.
    """

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
    #: False only for batches built before four eyes (migration 0011), which one officer ran.
    four_eyes: Mapped[bool] = mapped_column(default=True)
    needs_second_approval: Mapped[bool] = mapped_column(default=False)
    approved_by_id: Mapped[int | None] = _kept_user_fk()
    approved_at: Mapped[datetime | None]
    #: The paying treasury (one per batch); NULL: programmes naming no funder (their own budget).
    #: No ON DELETE (a funder that paid cannot go), as for ``ledger_accounts.funder_id``.
    funder_id: Mapped[int | None] = mapped_column(BigInt, sa.ForeignKey("funders.id"), index=True)
    #: The treasury's account the bank debits, as it was when the batch was built.
    payer_name: Mapped[str | None] = mapped_column(sa.String(200))
    payer_bank_name: Mapped[str | None] = mapped_column(sa.String(200))
    payer_account_number: Mapped[str | None] = mapped_column(sa.String(40))

    funder: Mapped[Funder | None] = relationship(lazy="joined")
    lines: Mapped[list[PayoutLine]] = relationship(
        back_populates="batch", order_by="PayoutLine.id", lazy="selectin"
    )

    __table_args__ = (
        sa.CheckConstraint("total_fen > 0 AND line_count > 0", name="not_empty"),
        sa.CheckConstraint("status = 'draft' OR sent_at IS NOT NULL", name="sent_has_time"),
        sa.CheckConstraint(
            "NOT four_eyes OR sent_by_id IS NULL OR created_by_id IS NULL"
            " OR sent_by_id <> created_by_id",
            name="sender_not_builder",
        ),
        sa.CheckConstraint(
            "NOT four_eyes OR status = 'draft' OR sent_by_id IS NOT NULL", name="sent_has_sender"
        ),
        sa.CheckConstraint(
            "approved_by_id IS NULL OR created_by_id IS NULL OR approved_by_id <> created_by_id",
            name="approver_not_builder",
        ),
        sa.CheckConstraint(
            "approved_by_id IS NULL OR sent_by_id IS NULL OR approved_by_id <> sent_by_id",
            name="approver_not_sender",
        ),
        sa.CheckConstraint(
            "NOT needs_second_approval OR status = 'draft' OR approved_by_id IS NOT NULL",
            name="large_batch_approved",
        ),
        sa.CheckConstraint(
            "approved_by_id IS NULL OR approved_at IS NOT NULL", name="approval_has_time"
        ),
    )

    @property
    def awaiting_second_approval(self) -> bool:
        return self.needs_second_approval and self.approved_by_id is None

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
    #: Who built the batch, copied so the database can refuse a confirmation by the same person.
    built_by_id: Mapped[int | None] = _kept_user_fk()

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
        sa.CheckConstraint(
            "confirmed_by_id IS NULL OR built_by_id IS NULL OR confirmed_by_id <> built_by_id",
            name="confirmer_not_builder",
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
    #: Whose part of the claim line this item pays (the batch's funder); NULL as the batch's.
    funder_id: Mapped[int | None] = mapped_column(BigInt, sa.ForeignKey("funders.id"), index=True)

    payout_line: Mapped[PayoutLine] = relationship(back_populates="items")

    __table_args__ = (
        sa.UniqueConstraint("payout_line_id", "claim_line_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


class ClaimLineFreeze(IdMixin, Base):
    """An unpaid claim line of a suspended provider, frozen: not approved and not paid out
    until a reviewer decides (release the voucher money to the budget, or unfreeze with a
    reason), or the provider is reinstated. Status moved by ``rules.LINE_FREEZE``."""

    __tablename__ = "claim_line_freezes"

    claim_line_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("claim_lines.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    #: The suspension that froze it; reinstating the provider lifts what it froze.
    status_change_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("provider_status_changes.id", ondelete="RESTRICT")
    )
    status: Mapped[FreezeStatus] = enum_column(FreezeStatus, "status", default=FreezeStatus.FROZEN)
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    line: Mapped[ClaimLine] = relationship()

    __table_args__ = (
        sa.UniqueConstraint(
            "claim_line_id", "status_change_id", name="uq_claim_line_freezes_line_suspension"
        ),
        sa.CheckConstraint(
            "(status = 'frozen' AND decided_at IS NULL) OR (status <> 'frozen'"
            " AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)",
            name="decided_with_reason",
        ),
    )
