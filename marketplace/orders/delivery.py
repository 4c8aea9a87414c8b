"""Delivery and confirmation: the report and the electronic invoice, the SME's confirmation
(the voucher part captured for the provider), and the automatic confirmation after the
deadline (``flask orders auto-confirm``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.clock import CHINA_TZ, local_date
from marketplace.db import utcnow
from marketplace.errors import ValidationFailed
from marketplace.invoice_verification import InvoiceQuery, InvoiceVerifier
from marketplace.orders import files, invoices, notices
from marketplace.orders.access import actor_of, lock_order
from marketplace.orders.core import (
    capture_voucher_part,
    check_version,
    clean_text,
    lapse_detail,
    payment_reference,
    record_transition,
    tell_lapse,
)
from marketplace.orders.enums import Actor, InvoiceSource, OrderAction, OrderStatus
from marketplace.orders.errors import (
    InvoiceFileReused,
    InvoiceMismatch,
    InvoiceRequired,
    InvoiceReused,
    NotYetConfirmable,
    RedLetterNotAccepted,
    ReportRequired,
)
from marketplace.orders.models import Invoice, Order
from marketplace.orders.rules import transition
from providers.credit import record_credit_event
from providers.enums import CreditEventKind

#: Days the SME has after delivery to confirm or dispute; afterwards the order confirms itself.
CONFIRM_WINDOW_DAYS = 7

A = OrderAction


@dataclass(frozen=True)
class InvoiceInput:
    """The invoice's details: read from its file, or typed for a paper-era invoice."""

    code: str
    number: str
    issued_on: date
    amount_fen: int
    buyer_taxpayer_id: str
    seller_taxpayer_id: str


def _invoice_problem(field: str, message: str) -> InvoiceMismatch:
    return InvoiceMismatch(message, field=field)


def check_invoice(
    session: Session, order: Order, invoice: InvoiceInput, today: date
) -> dict[str, Any]:
    """The invoice's columns, normalised, if it fits the order (see :func:`deliver`)."""
    code = (invoice.code or "").strip()
    number = (invoice.number or "").strip()
    errors: dict[str, list[str]] = {}
    if code and not (code.isascii() and code.isdigit() and len(code) in (10, 12)):
        errors["code"] = ["发票代码为10或12位数字，全电发票可留空 / 10 or 12 digits, or empty"]
    if not (number.isascii() and number.isdigit() and len(number) in (8, 20)):
        errors["number"] = ["发票号码为8或20位数字 / 8 or 20 digits"]
    if errors:
        raise ValidationFailed("发票信息有误 / the invoice details are invalid", errors)
    buyer = (invoice.buyer_taxpayer_id or "").strip().upper()
    seller = (invoice.seller_taxpayer_id or "").strip().upper()
    if invoice.amount_fen != order.price_fen:
        raise _invoice_problem(
            "amount_fen",
            f"发票金额 {invoice.amount_fen} 分与订单价格 {order.price_fen} 分不符 / the invoice "
            f"amount ({invoice.amount_fen} fen) differs from the order price ({order.price_fen} fen)",
        )
    if buyer != order.enterprise.credit_code:
        raise _invoice_problem(
            "buyer_taxpayer_id",
            "购买方纳税人识别号须为下单企业的统一社会信用代码 / the buyer's taxpayer id must be the"
            " ordering enterprise's credit code",
        )
    if seller != order.provider.credit_code:
        raise _invoice_problem(
            "seller_taxpayer_id",
            "销售方纳税人识别号须为本机构的统一社会信用代码 / the seller's taxpayer id must be your"
            " credit code",
        )
    agreed_on = local_date(order.agreement_accepted_at) if order.agreement_accepted_at else None
    if invoice.issued_on > today or (agreed_on is not None and invoice.issued_on < agreed_on):
        raise _invoice_problem(
            "issued_on",
            "开票日期须在协议确认之后且不晚于今天 / the invoice date must lie between the agreement"
            " and today",
        )
    used = session.scalar(
        sa.select(Invoice.order_id).where(Invoice.code == code, Invoice.number == number)
    )
    if used is not None:
        raise InvoiceReused(
            f"发票 {code or '—'} / {number} 已在平台使用过 / invoice {code or '—'}/{number} is "
            "already used on the platform",
            field="number",
        )
    return {
        "code": code,
        "number": number,
        "issued_on": invoice.issued_on,
        "amount_fen": invoice.amount_fen,
        "buyer_taxpayer_id": buyer,
        "seller_taxpayer_id": seller,
    }


def deliver(
    session: Session,
    storage: files.OrderFileStorage,
    order_id: int,
    user: User,
    *,
    invoice: InvoiceInput | None = None,
    invoice_files: Sequence[files.Upload] = (),
    report: files.Upload | None,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
    confirm_days: int = CONFIRM_WINDOW_DAYS,
    verifier: InvoiceVerifier | None = None,
) -> Order:
    """The provider delivers: the service report (PDF or image) and the electronic invoice.

    The invoice is its 数电发票 file(s) (``invoice_files``: the XML or OFD, optionally with
    the PDF), read by :mod:`marketplace.invoices`; ``invoice`` (typed details) is only for a
    paper-era invoice, recorded as typed and checked by hand at the claim. The invoice must
    match the order: amount = price, buyer = the enterprise's credit code,
    seller = the provider's, dated between the agreement and today, and its (code, number)
    never used before on the platform (UNIQUE in the database as well). The SME then has
    ``confirm_days`` to confirm or dispute. With a ``verifier`` the invoice is checked with the
    tax authority and its answer recorded (the claim's pre-check reads it). A delivery after the expected date (payment date
    + the service's lead time) records a late-delivery credit event against the provider.

    Raises OrderNotFound, ActorNotAllowed, IllegalTransition, PreconditionFailed,
    ValidationFailed, InvoiceRequired, InvoiceMismatch, InvoiceReused, InvoiceFileReused,
    InvoiceReversed, RedLetterNotAccepted, InvoiceFileUnreadable, InvoiceFileRefused,
    ReportRequired, FileTooLarge, EmptyFile, UnsupportedFileType, FileExtensionMismatch.
    """
    now = now or utcnow()
    today = local_date(now)
    order = lock_order(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.DELIVER, actor)
    text = clean_text(note, "note", required=False) or None
    read = None
    uploads = [u for u in invoice_files if u.filename]
    if uploads:
        read = invoices.read_uploads(storage, uploads)
        parsed = read.invoice
        if parsed.is_red_letter:
            raise RedLetterNotAccepted(
                f"发票 {parsed.number} 是红字发票，不能作为交付发票 / invoice {parsed.number} "
                "is a red-letter invoice, not the service's invoice",
                field="invoice_file",
            )
        invoice = InvoiceInput(
            code="",
            number=parsed.number,
            issued_on=parsed.issued_on,
            amount_fen=parsed.total_fen,
            buyer_taxpayer_id=parsed.buyer_tax_id,
            seller_taxpayer_id=parsed.seller_tax_id,
        )
    elif invoice is None:
        raise InvoiceRequired(
            "请上传发票文件（XML、OFD 或 PDF） / upload the invoice file (XML, OFD or PDF)",
            field="invoice_file",
        )
    # A file or number seen before, or a reversed invoice, is refused whoever delivers it,
    # before the order's own checks (which would only say it is not this order's invoice).
    if read is not None:
        invoices.ensure_unused(session, read)
    invoices.ensure_not_reversed(session, invoice.number.strip())
    columns = check_invoice(session, order, invoice, today)
    if read is not None:
        columns |= invoices.invoice_columns(read.invoice) | {"source": InvoiceSource.FILE}
    else:
        columns["source"] = InvoiceSource.TYPED
    if report is None or not report.filename:
        raise ReportRequired("请上传服务报告 / upload the service report", field="report")
    if verifier is not None:
        answer = verifier.verify(
            InvoiceQuery(
                number=columns["number"],
                issued_on=columns["issued_on"],
                total_fen=columns["amount_fen"],
                buyer_tax_id=columns["buyer_taxpayer_id"],
                seller_tax_id=columns["seller_taxpayer_id"],
            )
        )
        columns["verification"] = answer.status
        columns["verified_at"] = now if answer.status.settled else None
    stored = files.store(session, storage, report)
    try:
        with session.begin_nested():
            # Through the relationship: the order's invoice is then known without a re-read.
            row = Invoice(order=order, recorded_at=now, **columns)
            session.add(row)
            session.flush()
    except IntegrityError:
        # Another delivery recorded the same invoice first; the unique key decided.
        raise InvoiceReused(
            "该发票已在平台使用过 / this invoice is already used on the platform", field="number"
        ) from None
    if read is not None:
        try:
            with session.begin_nested():
                invoices.keep_files(
                    session, storage, read, actor_id=user.id, now=now, invoice_id=row.id
                )
                session.flush()
        except IntegrityError:
            raise InvoiceFileReused(
                "该发票文件已在平台上传过 / this invoice file was already uploaded on the platform",
                field="invoice_file",
            ) from None
    order.report_path = stored.stored_name
    order.report_filename = stored.original_filename
    order.report_content_type = stored.content_type
    order.delivered_at = now
    order.delivery_note = text
    order.confirm_by = today + timedelta(days=confirm_days)
    late = order.due_on is not None and today > order.due_on
    if late:
        record_credit_event(
            session,
            order.provider_id,
            CreditEventKind.LATE_DELIVERY,
            payment_reference(order.id),
            occurred_on=today,
            note=f"应于 {order.due_on} 前交付 / due by {order.due_on}",
            actor_id=user.id,
        )
    record_transition(
        session,
        order,
        A.DELIVER,
        actor,
        user.id,
        note=text,
        now=now,
        invoice=f"{columns['code']}/{columns['number']}",
        invoice_source=columns["source"].value,
        confirm_by=order.confirm_by.isoformat(),
        late=late,
    )
    notices.tell(session, order, "delivered", except_user_id=user.id)
    return order


# --------------------------------------------------------------------------- confirmation


def confirm(
    session: Session,
    order_id: int,
    user: User,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Order:
    """The SME accepts the delivery: the voucher hold is captured, so the voucher part becomes
    payable to the provider. After the voucher's claim deadline the voucher part lapses
    instead (:func:`.core.capture_voucher_part`): the order is confirmed all the same, the
    event records ``voucher_lapsed_fen`` and both parties are told.

    Raises OrderNotFound, ActorNotAllowed, IllegalTransition, PreconditionFailed."""
    now = now or utcnow()
    order = lock_order(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.CONFIRM, actor)
    lapsed = capture_voucher_part(session, order, now, user.id)
    order.confirmed_at = now
    record_transition(
        session, order, A.CONFIRM, actor, user.id, now=now, **lapse_detail(session, order, lapsed)
    )
    if lapsed:
        tell_lapse(session, order, lapsed)
    else:
        notices.tell(session, order, "confirmed", except_user_id=user.id)
    return order


def china_noon(day: date) -> datetime:
    """Noon in Kunming on ``day``: the instant commands use for a date given to them."""
    return datetime.combine(day, time(12, 0), CHINA_TZ)


def auto_confirm(session: Session, order_id: int, *, now: datetime) -> Order:
    """Confirm a delivered order whose confirmation deadline has passed (the platform acts).

    After the voucher's claim deadline the voucher part lapses, as in :func:`confirm`.

    Raises OrderNotFound, IllegalTransition (no longer delivered: confirmed, disputed …),
    NotYetConfirmable (the deadline is today or later).
    """
    order = lock_order(session, order_id)
    transition(order.status, A.AUTO_CONFIRM, Actor.SYSTEM)
    if order.confirm_by is None or local_date(now) <= order.confirm_by:
        raise NotYetConfirmable(
            f"确认期限 {order.confirm_by} 尚未届满 / the confirmation period ends on "
            f"{order.confirm_by}"
        )
    lapsed = capture_voucher_part(session, order, now, None)
    order.confirmed_at = now
    record_transition(
        session,
        order,
        A.AUTO_CONFIRM,
        Actor.SYSTEM,
        None,
        now=now,
        confirm_by=str(order.confirm_by),
        **lapse_detail(session, order, lapsed),
    )
    if lapsed:
        tell_lapse(session, order, lapsed)
    else:
        notices.tell(session, order, "auto_confirmed")
    return order


def due_for_auto_confirm(session: Session, today: date) -> list[int]:
    """Delivered orders whose confirmation deadline is before ``today``, oldest first."""
    return list(
        session.scalars(
            sa.select(Order.id)
            .where(Order.status == OrderStatus.DELIVERED, Order.confirm_by < today)
            .order_by(Order.id)
        )
    )
