"""Invoice files at delivery: read the 数电发票 file(s), refuse what was used before, keep
the files.

The provider uploads the invoice's XML or OFD (and may add its PDF); :mod:`marketplace.einvoice`
reads them and the fields are never typed. What makes an invoice unusable here, checked
before anything is written and again by the database:

* the same file (SHA-256, UNIQUE in ``invoice_files``) uploaded before, by anyone;
* the same invoice number on the platform before, as an invoice or a red-letter one
  (``invoices`` UNIQUE(code, number), ``red_letter_invoices`` UNIQUE(number));
* a red-letter invoice, or an invoice a red-letter one has reversed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.einvoice import ParsedInvoice, read_invoice_files
from marketplace.enums import Role
from marketplace.errors import NotFound
from marketplace.invoice_verification import InvoiceQuery, InvoiceVerifier, Verification
from marketplace.orders import files
from marketplace.orders.access import can_see
from marketplace.orders.errors import InvoiceFileReused, InvoiceReused, InvoiceReversed
from marketplace.orders.models import Invoice, InvoiceFile, Order, RedLetterInvoice
from providers.documents import display_name


@dataclass(frozen=True)
class ReadFiles:
    """The invoice read from its files, with each file's bytes and name to keep."""

    invoice: ParsedInvoice
    files: list[tuple[ParsedInvoice, bytes, str]]


def read_uploads(storage: files.OrderFileStorage, uploads: Sequence[files.Upload]) -> ReadFiles:
    """Read (size-limited) and parse the uploaded invoice files.

    Raises FileTooLarge, EmptyFile, InvoiceFileUnreadable, InvoiceFileRefused."""
    datas = [storage.read_limited(upload.stream) for upload in uploads]
    chosen, readings = read_invoice_files(datas)
    return ReadFiles(
        chosen,
        [
            (reading, data, display_name(upload.filename))
            for reading, data, upload in zip(readings, datas, uploads, strict=True)
        ],
    )


def ensure_unused(session: Session, read: ReadFiles) -> None:
    """Refuse a file or an invoice number seen on the platform before (see the module)."""
    hashes = [reading.sha256 for reading, _data, _name in read.files]
    if session.scalar(sa.select(InvoiceFile.id).where(InvoiceFile.sha256.in_(hashes)).limit(1)):
        raise InvoiceFileReused(
            "该发票文件已在平台上传过 / this invoice file was already uploaded on the platform",
            field="invoice_file",
        )
    number = read.invoice.number
    used = session.scalar(
        sa.select(Invoice.id).where(Invoice.number == number).limit(1)
    ) or session.scalar(sa.select(RedLetterInvoice.id).where(RedLetterInvoice.number == number))
    if used:
        raise InvoiceReused(
            f"发票号码 {number} 已在平台使用过 / invoice number {number} is already used on the "
            "platform",
            field="invoice_file",
        )


def ensure_not_reversed(session: Session, number: str) -> None:
    reversal = session.scalar(
        sa.select(RedLetterInvoice.number).where(RedLetterInvoice.reverses_number == number)
    )
    if reversal is not None:
        raise InvoiceReversed(
            f"发票 {number} 已被红字发票 {reversal} 冲销 / invoice {number} was reversed by "
            f"red-letter invoice {reversal}",
            field="invoice_file",
            extra={"red_letter_number": reversal},
        )


def keep_files(
    session: Session,
    storage: files.OrderFileStorage,
    read: ReadFiles,
    *,
    actor_id: int | None,
    now: datetime,
    invoice_id: int | None = None,
    red_letter_id: int | None = None,
) -> list[InvoiceFile]:
    """Write the files and their rows (the SHA-256 is UNIQUE: a race loses on the key)."""
    kept = []
    for reading, data, name in read.files:
        row = InvoiceFile(
            sha256=reading.sha256,
            kind=reading.kind,
            stored_name=files.store_bytes(session, storage, data, reading.kind.value),
            original_filename=name,
            size_bytes=len(data),
            invoice_id=invoice_id,
            red_letter_id=red_letter_id,
            uploaded_by_id=actor_id,
            uploaded_at=now,
        )
        session.add(row)
        kept.append(row)
    return kept


def invoice_columns(parsed: ParsedInvoice) -> dict[str, object]:
    """What the file adds to the invoice row beyond the delivery's checked fields."""
    return {
        "amount_without_tax_fen": parsed.amount_without_tax_fen,
        "tax_fen": parsed.tax_fen,
        "tax_rates": ",".join(parsed.tax_rates)[:60] or None,
        "seller_name": parsed.seller_name[:200] or None,
        "buyer_name": parsed.buyer_name[:200] or None,
        "items": [item.as_dict() for item in parsed.items],
    }


#: Staff who check claims read their documents; system administrators run the servers and
#: need none of them (POLICY.md rule 11).
DOCUMENT_READERS = frozenset({Role.REVIEWER, Role.FINANCE, Role.AUDITOR})


def entitled_file(session: Session, user: User, file_id: int) -> InvoiceFile:
    """An invoice file ``user`` may download: the order's two parties and the staff who
    check claims (reviewers, finance, auditors); a red-letter file, its uploader and that
    staff. NotFound (404) for anyone else, so a file's existence is not revealed."""
    row = session.get(InvoiceFile, file_id) if 0 < file_id < 2**63 else None
    if row is not None:
        if user.role in DOCUMENT_READERS:
            return row
        if row.invoice_id is not None:
            order = session.get(Order, row.invoice.order_id) if row.invoice else None
            if order is not None and user.role is not Role.SYSADMIN and can_see(user, order):
                return row
        elif row.uploaded_by_id == user.id:
            return row
    raise NotFound(f"发票文件 {file_id} 不存在 / no invoice file {file_id}")


def unverified(session: Session) -> list[int]:
    """Invoices the tax authority has not answered for yet (never asked, or it was down)."""
    return list(
        session.scalars(
            sa.select(Invoice.id)
            .where(Invoice.verification.in_([Verification.UNCHECKED, Verification.UNAVAILABLE]))
            .order_by(Invoice.id)
        )
    )


def verify(
    session: Session, invoice_id: int, verifier: InvoiceVerifier, *, now: datetime
) -> Verification:
    """Ask again about one invoice and record the answer."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"发票 {invoice_id} 不存在 / no invoice {invoice_id}")
    answer = verifier.verify(
        InvoiceQuery(
            number=invoice.number,
            issued_on=invoice.issued_on,
            total_fen=invoice.amount_fen,
            buyer_tax_id=invoice.buyer_taxpayer_id,
            seller_tax_id=invoice.seller_taxpayer_id,
        )
    )
    invoice.verification = answer.status
    invoice.verified_at = now if answer.status.settled else None
    session.flush()
    return answer.status
