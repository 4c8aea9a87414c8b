"""Red-letter invoices (红字发票): a reversed invoice pays for nothing.

Anyone signed in may upload a red-letter invoice (the SME that received it, the provider,
staff): the platform reads its file like any invoice (:mod:`marketplace.einvoice`). It must be
red-letter (negative, naming the invoice it reverses); its number and file are unique
platform-wide like every invoice's. Then, for the reversed invoice's claim line:

* not yet paid (awaiting review, finance, or the payout queue): the line is frozen — its
  pre-check now fails ``invoice_not_reversed``, so neither reviewer nor finance can approve it,
  and a payout batch leaves it out;
* paid, or in a batch the bank later confirms as paid: an :class:`InvoiceRecovery` records
  the voucher part to recover from the provider (once per line, UNIQUE), finance is told.

A red-letter invoice whose original is not on the platform is kept all the same, so that
invoice can never be delivered here afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.orders import files, invoices
from marketplace.orders.errors import InvoiceFileReused, InvoiceReused
from marketplace.orders.models import Invoice, RedLetterInvoice
from marketplace.settlement.claims import AWAITING_DECISION, store_precheck
from marketplace.settlement.enums import ClaimLineStatus
from marketplace.settlement.errors import NotRedLetter
from marketplace.settlement.models import ClaimLine, InvoiceRecovery


@dataclass
class ReversalResult:
    red_letter: RedLetterInvoice
    #: The reversed invoice's claim line, if the invoice was claimed.
    line: ClaimLine | None = None
    recovery: InvoiceRecovery | None = None


def record_red_letter(
    session: Session,
    storage: files.OrderFileStorage,
    uploads: Sequence[files.Upload],
    *,
    actor_id: int | None,
    now: datetime | None = None,
) -> ReversalResult:
    """Read and keep a red-letter invoice; freeze or recover what its original paid for.

    Raises InvoiceFileUnreadable, InvoiceFileRefused, FileTooLarge, EmptyFile, NotRedLetter,
    InvoiceReused (its number is known), InvoiceFileReused (its file was uploaded before)."""
    now = now or utcnow()
    read = invoices.read_uploads(storage, uploads)
    parsed = read.invoice
    if not parsed.is_red_letter or parsed.reverses_number is None:
        raise NotRedLetter(
            f"发票 {parsed.number} 不是红字发票 / invoice {parsed.number} is not a red-letter "
            "invoice",
            field="invoice_file",
        )
    invoices.ensure_unused(session, read)
    original = session.scalar(
        sa.select(Invoice).where(Invoice.number == parsed.reverses_number).limit(1)
    )
    try:
        with session.begin_nested():
            red = RedLetterInvoice(
                number=parsed.number,
                reverses_number=parsed.reverses_number,
                issued_on=parsed.issued_on,
                total_fen=parsed.total_fen,
                tax_fen=parsed.tax_fen,
                seller_taxpayer_id=parsed.seller_tax_id,
                buyer_taxpayer_id=parsed.buyer_tax_id,
                items=[item.as_dict() for item in parsed.items],
                invoice_id=original.id if original is not None else None,
                uploaded_by_id=actor_id,
                uploaded_at=now,
            )
            session.add(red)
            session.flush()
    except IntegrityError:
        raise InvoiceReused(
            f"发票号码 {parsed.number} 已在平台使用过 / invoice number {parsed.number} is "
            "already used on the platform",
            field="invoice_file",
        ) from None
    try:
        with session.begin_nested():
            invoices.keep_files(
                session, storage, read, actor_id=actor_id, now=now, red_letter_id=red.id
            )
            session.flush()
    except IntegrityError:
        raise InvoiceFileReused(
            "该发票文件已在平台上传过 / this invoice file was already uploaded on the platform",
            field="invoice_file",
        ) from None
    result = ReversalResult(red)
    if original is not None:
        line = session.scalars(
            sa.select(ClaimLine)
            .where(ClaimLine.invoice_id == original.id)
            .with_for_update(of=ClaimLine)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if line is not None:
            result.line = line
            if line.status is ClaimLineStatus.PAID:
                result.recovery = recover(session, line, red, now=now)
            elif line.status in AWAITING_DECISION:
                store_precheck(session, line, now)
    record(
        session,
        "invoice.reversed",
        actor_id=actor_id,
        subject_type="order" if original is not None else "red_letter_invoice",
        subject_id=original.order_id if original is not None else red.id,
        red_letter_number=red.number,
        reverses_number=red.reverses_number,
        total_fen=red.total_fen,
        claim_line_id=result.line.id if result.line else None,
        claim_line_status=result.line.status.value if result.line else None,
        recovery_fen=result.recovery.amount_fen if result.recovery else 0,
    )
    session.flush()
    return result


def reversal_of(session: Session, invoice: Invoice) -> RedLetterInvoice | None:
    return session.scalars(
        sa.select(RedLetterInvoice)
        .where(RedLetterInvoice.reverses_number == invoice.number)
        .order_by(RedLetterInvoice.id)
        .limit(1)
    ).first()


def recover(
    session: Session, line: ClaimLine, red: RedLetterInvoice, *, now: datetime
) -> InvoiceRecovery:
    """Flag the voucher part a paid line received for recovery (once per line)."""
    existing = session.scalar(
        sa.select(InvoiceRecovery).where(InvoiceRecovery.claim_line_id == line.id)
    )
    if existing is not None:
        return existing
    recovery = InvoiceRecovery(
        claim_line_id=line.id,
        order_id=line.order_id,
        provider_id=line.provider_id,
        programme_id=line.programme_id,
        red_letter_id=red.id,
        amount_fen=line.amount_fen,
        created_at=now,
    )
    session.add(recovery)
    session.flush()
    record(
        session,
        "invoice.recovery_flagged",
        actor_id=None,
        subject_type="order",
        subject_id=line.order_id,
        claim_line_id=line.id,
        amount_fen=line.amount_fen,
        red_letter_number=red.number,
    )
    return recovery


def recover_if_reversed(session: Session, line: ClaimLine, *, now: datetime) -> None:
    """After the bank paid ``line``: if its invoice was reversed meanwhile, flag recovery."""
    invoice = session.get(Invoice, line.invoice_id)
    red = reversal_of(session, invoice) if invoice is not None else None
    if red is not None:
        recover(session, line, red, now=now)


def reversed_invoice_ids(session: Session, invoice_ids: Sequence[int]) -> set[int]:
    """Which of ``invoice_ids`` a red-letter invoice reversed."""
    if not invoice_ids:
        return set()
    return set(
        session.scalars(
            sa.select(Invoice.id)
            .join(RedLetterInvoice, RedLetterInvoice.reverses_number == Invoice.number)
            .where(Invoice.id.in_(list(invoice_ids)))
        )
    )
