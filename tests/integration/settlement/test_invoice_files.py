"""Settlement on the real invoice, on both databases: the provider delivers by uploading the
数电发票 file (XML, OFD, PDF), the platform reads it; each cross-check fails alone with its
named error; the same file or number is refused across providers; a red-letter invoice
freezes the claim, or flags a paid one for recovery; hostile files leave nothing behind."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from marketplace.clock import local_date
from marketplace.errors import DomainError
from marketplace.orders import delivery
from marketplace.orders.enums import InvoiceSource, OrderStatus
from marketplace.orders.files import Upload
from marketplace.orders.models import Invoice, InvoiceFile, RedLetterInvoice
from marketplace.settlement import payouts, reversals
from marketplace.settlement.enums import CheckRule, ClaimLineStatus
from marketplace.settlement.models import InvoiceRecovery
from tests.conftest import rows
from tests.support.einvoice_files import Item, ofd_bytes, pdf_bytes, xml_bytes
from tests.support.order_fixtures import invoice_spec_for, invoice_upload, report
from tests.support.settlement_fixtures import CLAIM_NOW
from tests.support.voucher_fixtures import VOUCHER_NOW

pytestmark = pytest.mark.usefixtures("orders_ctx")

DELIVERY_NOW = VOUCHER_NOW + timedelta(days=1)


@pytest.fixture
def w(settlement_world):
    settlement_world.orders.invoice_files = True
    return settlement_world


def _paid(w, **kwargs):
    return w.create_order(OrderStatus.PAID, **kwargs)


def _deliver(w, order, files, *, now=DELIVERY_NOW):
    return delivery.deliver(
        w.session,
        w.orders.storage,
        order.id,
        w.orders.provider_user(order),
        invoice_files=files,
        report=report(),
        now=now,
    )


def _refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, (caught.value.code, caught.value.message)
    return caught.value


def _spec(order, **overrides):
    return invoice_spec_for(order, today=local_date(DELIVERY_NOW), **overrides)


@pytest.mark.parametrize("kinds", [("xml",), ("ofd",), ("pdf",), ("pdf", "xml")])
def test_delivery_reads_the_invoice_file(w, session, kinds):
    order = _paid(w)
    spec = _spec(order)
    _deliver(w, order, [invoice_upload(spec, kind) for kind in kinds])
    invoice = order.invoice
    assert invoice.source is InvoiceSource.FILE
    assert (invoice.code, invoice.number) == ("", spec.number)
    assert invoice.issued_on == local_date(DELIVERY_NOW)
    assert invoice.amount_fen == order.price_fen == 200_000
    # 6%: 188,679 fen without tax, 11,321 tax; added up to the fen.
    assert (invoice.amount_without_tax_fen, invoice.tax_fen) == (188_679, 11_321)
    assert invoice.tax_rates == "6%"
    assert invoice.buyer_taxpayer_id == order.enterprise.credit_code
    assert invoice.seller_taxpayer_id == order.provider.credit_code
    assert invoice.seller_name == spec.seller_name and invoice.buyer_name == spec.buyer_name
    assert [i["name"] for i in invoice.items] == ["*现代服务*检验检测服务"]
    assert [f.kind.value for f in invoice.files] == list(kinds)
    for kept in invoice.files:
        path = w.orders.storage.path_for(kept.stored_name)
        assert Path(path).read_bytes()[:4] in (b"<?xm", b"PK\x03\x04", b"%PDF")
        assert len(kept.sha256) == 64 and kept.uploaded_by_id is not None


def test_a_claim_on_a_file_invoice_passes_all_fifteen_checks(w, session):
    order = w.order()
    assert order.invoice.source is InvoiceSource.FILE
    claim = w.claim(order)
    [line] = claim.lines
    assert line.precheck_passed and len(line.checklist) == 15
    # No verification gateway in this app: the one item flagged for a check by hand.
    assert [item["rule"] for item in line.checklist if item["flag"]] == ["invoice_verified"]


def test_a_typed_paper_invoice_is_flagged_for_a_check_by_hand(settlement_world, session):
    order = settlement_world.order()  # the typed path
    assert order.invoice.source is InvoiceSource.TYPED and order.invoice.tax_fen is None
    [line] = settlement_world.claim(order).lines
    assert line.precheck_passed
    assert [i["rule"] for i in line.checklist if i["flag"]] == [
        "invoice_items",
        "invoice_verified",
        "documents",
    ]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"total_fen": 200_001}, "invoice_mismatch", "amount_fen"),
        ({"buyer_id": "91530100MA6K99999X"}, "invoice_mismatch", "buyer_taxpayer_id"),
        ({"seller_id": "12530000431299999X"}, "invoice_mismatch", "seller_taxpayer_id"),
        ({"issued": local_date(DELIVERY_NOW) + timedelta(days=1)}, "invoice_mismatch", "issued_on"),
    ],
)
def test_each_delivery_check_fails_alone(w, session, overrides, code, field):
    order = _paid(w)
    error = _refused(code, _deliver, w, order, [invoice_upload(_spec(order, **overrides))])
    assert error.field == field
    session.refresh(order)
    assert order.status is OrderStatus.PAID and order.invoice is None
    assert rows(session, InvoiceFile) == []


def test_item_lines_outside_the_category_fail_the_claim_check(w, session):
    w.orders.invoice_overrides = {"item_name": "*计算机*笔记本电脑"}  # a laptop, not testing
    order = w.order()
    claim = w.claim(order)
    [line] = claim.lines
    failed = [item["rule"] for item in line.checklist if not item["passed"]]
    assert failed == ["invoice_items"]
    error = _refused("invoice_items_mismatch", w.review, claim)
    assert error.extra["rule"] == CheckRule.INVOICE_ITEMS.value


def test_a_red_letter_invoice_is_not_a_delivery_invoice(w, session):
    order = _paid(w)
    red = _spec(order, total_fen=-200_000, reverses=f"{'1' * 20}")
    _refused("red_letter_invoice", _deliver, w, order, [invoice_upload(red)])


def test_the_same_file_or_number_is_refused_across_providers(w, session):
    first = _paid(w)
    other = _paid(w)  # another enterprise and another provider
    assert first.provider_id != other.provider_id
    spec = _spec(first)
    data = xml_bytes(spec)
    _deliver(w, first, [Upload("a.xml", io.BytesIO(data))])
    # The very same file, by another provider: its SHA-256 is known.
    _refused("invoice_file_reused", _deliver, w, other, [Upload("b.xml", io.BytesIO(data))])
    # Another file (the PDF) of the same invoice number.
    same_number = spec.but(
        buyer_id=other.enterprise.credit_code, seller_id=other.provider.credit_code
    )
    _refused(
        "invoice_reused", _deliver, w, other, [Upload("c.pdf", io.BytesIO(pdf_bytes(same_number)))]
    )
    # A byte-different OFD of the same invoice by the same provider again: the number decides.
    second = _paid(w, provider=first.provider, enterprise=first.enterprise)
    _refused("invoice_reused", _deliver, w, second, [Upload("d.ofd", io.BytesIO(ofd_bytes(spec)))])
    assert len(rows(session, Invoice)) == 1


def test_files_of_different_invoices_are_refused_together(w, session):
    order = _paid(w)
    files = [invoice_upload(_spec(order)), invoice_upload(_spec(order), "pdf")]
    error = _refused("invoice_file_unreadable", _deliver, w, order, files)
    assert "not the same invoice" in error.message


def test_no_invoice_at_all_is_refused(w, session):
    order = _paid(w)
    _refused("invoice_required", _deliver, w, order, [])


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY a "aaaa">]><EInvoice>&a;</EInvoice>',
            "invoice_file_refused",
        ),
        (b"<EInvoice><TaxSupervisionInfo/></EInvoice>", "invoice_file_unreadable"),
        (b"%PDF-1.7 not really", "invoice_file_unreadable"),
    ],
)
def test_a_bad_file_leaves_nothing_behind(w, session, data, code):
    order = _paid(w)
    before = (
        {p.name for p in w.orders.storage.directory.glob("*")}
        if w.orders.storage.directory.exists()
        else set()
    )
    error = _refused(code, _deliver, w, order, [Upload("x.xml", io.BytesIO(data))])
    assert error.status == 422 and error.field == "invoice_file"
    session.refresh(order)
    assert order.invoice is None and rows(session, InvoiceFile) == []
    after = (
        {p.name for p in w.orders.storage.directory.glob("*")}
        if w.orders.storage.directory.exists()
        else set()
    )
    assert after == before


def test_an_oversize_file_is_refused(w, session, make_app):
    order = _paid(w)
    big = xml_bytes(_spec(order)) + b" " * (w.orders.storage.max_bytes + 1)
    _refused("file_too_large", _deliver, w, order, [Upload("big.xml", io.BytesIO(big))])


# --------------------------------------------------------------------------- red letters


def _red_letter(w, order, **overrides):
    blue = order.invoice
    spec = _spec(
        order,
        total_fen=-order.price_fen,
        reverses=blue.number,
        item_name="*现代服务*检验检测服务",
        **overrides,
    )
    return [invoice_upload(spec)]


def _record(w, uploads, by):
    return reversals.record_red_letter(
        w.session, w.orders.storage, uploads, actor_id=by.id, now=CLAIM_NOW
    )


def test_a_red_letter_before_review_freezes_the_claim_line(w, session):
    order = w.order()
    claim = w.claim(order)
    [line] = claim.lines
    sme = w.orders.sme(order.enterprise)
    result = _record(w, _red_letter(w, order), sme)  # the SME brings it
    assert result.line is line and result.recovery is None
    red = result.red_letter
    assert red.total_fen == -order.price_fen and red.invoice_id == order.invoice.id
    assert [
        f.kind.value for f in rows(session, InvoiceFile, InvoiceFile.red_letter_id == red.id)
    ] == ["xml"]
    assert not line.precheck_passed
    assert [i["rule"] for i in line.checklist if not i["passed"]] == ["invoice_not_reversed"]
    error = _refused("invoice_reversed", w.review, claim)
    assert (
        red.number
        in next(i for i in line.checklist if i["rule"] == "invoice_not_reversed")["detail"]
    )
    assert error.status == 409 and line.status is ClaimLineStatus.PENDING_REVIEW


def test_an_approved_line_reversed_in_the_queue_is_left_out_of_batches(w, session):
    kept, reversed_ = w.order(), w.order()
    w.approved_claim(kept)
    reversed_claim = w.approved_claim(reversed_)
    [frozen] = reversed_claim.lines
    _record(w, _red_letter(w, reversed_), w.seller(reversed_))
    _refused(
        "invoice_reversed",
        payouts.create_batch,
        session,
        actor_id=w.finance.id,
        claim_line_ids=[frozen.id],
    )
    batch = w.batch()
    assert [item.order_id for line in batch.lines for item in line.items] == [kept.id]
    assert frozen.status is ClaimLineStatus.APPROVED and frozen.payout_line_id is None


def test_a_red_letter_after_payout_raises_a_recovery(w, session):
    order = w.order()
    w.approved_claim(order)
    batch = w.sent_batch()
    w.confirm(batch, w.confirmation_csv(batch))
    session.refresh(order)
    assert order.status is OrderStatus.PAID_OUT
    result = _record(w, _red_letter(w, order), w.reviewer)
    recovery = result.recovery
    assert recovery is not None and recovery.amount_fen == order.voucher_part_fen
    assert (recovery.order_id, recovery.provider_id) == (order.id, order.provider_id)
    assert result.line.status is ClaimLineStatus.PAID
    assert rows(session, InvoiceRecovery) == [recovery]


def test_reversed_while_the_bank_pays_is_recovered_when_the_bank_confirms(w, session):
    order = w.order()
    w.approved_claim(order)
    batch = w.sent_batch()
    result = _record(w, _red_letter(w, order), w.finance)
    assert result.recovery is None and result.line.status is ClaimLineStatus.IN_PAYOUT
    w.confirm(batch, w.confirmation_csv(batch))
    [recovery] = rows(session, InvoiceRecovery)
    assert (
        recovery.claim_line_id == result.line.id and recovery.amount_fen == order.voucher_part_fen
    )


def test_a_reversed_invoice_can_never_be_delivered(w, session):
    order = _paid(w)
    spec = _spec(order)
    red = spec.but(
        number="26532000000088888888",
        without_tax="-" + spec.without_tax,
        tax="-" + spec.tax,
        total="-" + spec.total,
        items=tuple(
            Item(name=i.name, amount="-" + i.amount, tax="-" + i.tax, unit_price=i.unit_price)
            for i in spec.items
        ),
        reverses=spec.number,
    )
    result = _record(w, [Upload("red.xml", io.BytesIO(xml_bytes(red)))], w.reviewer)
    assert result.line is None and result.red_letter.invoice_id is None
    _refused("invoice_reversed", _deliver, w, order, [invoice_upload(spec)])


def test_a_red_letter_upload_is_itself_unique_and_must_be_red(w, session):
    order = w.order()
    uploads = _red_letter(w, order)
    data = uploads[0].stream.getvalue()
    _record(w, uploads, w.reviewer)
    _refused("invoice_file_reused", _record, w, [Upload("again.xml", io.BytesIO(data))], w.reviewer)
    _refused("not_red_letter", _record, w, [invoice_upload(_spec(order))], w.reviewer)
    assert len(rows(session, RedLetterInvoice)) == 1
