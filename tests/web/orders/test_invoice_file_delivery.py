"""Delivering with the invoice file, from the page and over the API: the fields are read,
never typed; errors show at the field (pages) or as problem+json (API), never a 500; the
red-letter upload page and operation."""

from __future__ import annotations

import base64
import io

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders.enums import InvoiceSource
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from tests.support.einvoice_files import ofd_bytes, pdf_bytes, xml_bytes
from tests.support.order_fixtures import invoice_spec_for
from tests.support.provider_fixtures import PDF

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><EInvoice>&b;</EInvoice>'
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _order(session, order_id) -> Order:
    session.expire_all()
    return session.get(Order, order_id)


def test_delivery_page_reads_the_file_and_shows_the_tax(session, login, order_world, create_order):
    order = create_order(S.PAID, now=utcnow())
    spec = invoice_spec_for(order, today=local_date(utcnow()))
    seller = login(order_world.provider_user(order))
    page = seller.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'name="invoice_file"' in page and 'data-testid="paper-invoice"' in page
    done = seller.post(
        f"/orders/{order.id}/deliver",
        data={
            "invoice_file": (io.BytesIO(ofd_bytes(spec)), "发票.ofd"),
            "invoice_pdf": (io.BytesIO(pdf_bytes(spec)), "发票.pdf"),
            "report": (io.BytesIO(PDF), "r.pdf"),
            "version": str(order.version),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    delivered = _order(session, order.id)
    assert delivered.status is S.DELIVERED
    assert delivered.invoice.source is InvoiceSource.FILE
    assert [f.kind.value for f in delivered.invoice.files] == ["ofd", "pdf"]
    shown = seller.get(f"/orders/{order.id}", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "¥113.21 (6%)" in shown  # the tax of ¥2,000.00 at 6 %
    assert "读取发票文件" in shown and "OFD" in shown


def test_a_bad_file_shows_its_message_at_the_field(session, login, order_world, create_order):
    order = create_order(S.PAID, now=utcnow())
    seller = login(order_world.provider_user(order))
    for data, status, words in (
        (BILLION_LAUGHS, 422, "DTD"),
        (b"<EInvoice/>", 422, "InvoiceNumber"),
    ):
        response = seller.post(
            f"/orders/{order.id}/deliver",
            data={
                "invoice_file": (io.BytesIO(data), "x.xml"),
                "report": (io.BytesIO(PDF), "r.pdf"),
                "version": str(order.version),
            },
            content_type="multipart/form-data",
            query_string={"lang": "en"},
        )
        assert response.status_code == status
        html = response.get_data(as_text=True)
        field_block = html.split('name="invoice_file"', 1)[1][:1500]
        assert words in field_block  # the message sits with the field
    nothing = seller.post(
        f"/orders/{order.id}/deliver",
        data={"report": (io.BytesIO(PDF), "r.pdf"), "version": str(order.version)},
        content_type="multipart/form-data",
    )
    assert nothing.status_code == 422  # invoice_required
    partial = seller.post(
        f"/orders/{order.id}/deliver",
        data={"invoice_number": "12345678", "report": (io.BytesIO(PDF), "r.pdf")},
        content_type="multipart/form-data",
    )
    assert partial.status_code == 400  # a paper invoice needs all its details
    assert _order(session, order.id).status is S.PAID


def test_delivery_over_the_api_with_the_file(client, order_world, create_order, api_token):
    order = create_order(S.PAID, now=utcnow())
    spec = invoice_spec_for(order, today=local_date(utcnow()))
    seller = api_token(order_world.provider_user(order))
    url = f"/api/v1/orders/{order.id}/deliver"
    report = {"filename": "r.pdf", "content_base64": _b64(PDF)}
    both = client.post(
        url,
        json={
            "invoice_files": [{"filename": "i.xml", "content_base64": _b64(xml_bytes(spec))}],
            "invoice": {
                "number": "12345678",
                "issued_on": "2026-06-01",
                "amount_fen": 1,
                "buyer_taxpayer_id": "x" * 18,
                "seller_taxpayer_id": "y" * 18,
            },
            "report": report,
        },
        headers=seller,
    )
    assert both.status_code == 422 and "invoice_files" in both.json["errors"]
    hostile = client.post(
        url,
        json={
            "invoice_files": [{"filename": "i.xml", "content_base64": _b64(BILLION_LAUGHS)}],
            "report": report,
        },
        headers=seller,
    )
    assert hostile.status_code == 422
    assert hostile.headers["Content-Type"].startswith("application/problem+json")
    assert hostile.json["code"] == "invoice_file_refused"
    unreadable = client.post(
        url,
        json={
            "invoice_files": [{"filename": "i.xml", "content_base64": _b64(b"<EInvoice/>")}],
            "report": report,
        },
        headers=seller,
    )
    assert unreadable.status_code == 422 and unreadable.json["code"] == "invoice_file_unreadable"
    assert "TaxSupervisionInfo/InvoiceNumber" in unreadable.json["detail"]
    done = client.post(
        url,
        json={
            "invoice_files": [{"filename": "i.xml", "content_base64": _b64(xml_bytes(spec))}],
            "report": report,
        },
        headers=seller,
    )
    assert done.status_code == 200, done.json
    invoice = done.json["invoice"]
    assert invoice["source"] == "file" and invoice["number"] == spec.number
    assert (invoice["amount_fen"], invoice["amount_without_tax_fen"], invoice["tax_fen"]) == (
        200_000,
        188_679,
        11_321,
    )
    assert invoice["tax_rates"] == "6%" and invoice["items"][0]["tax_rate"] == "6%"
    assert [f["kind"] for f in invoice["files"]] == ["xml"]


def test_a_red_letter_over_the_api_and_the_page(
    client, session, order_world, create_order, api_token, login
):
    order_world.invoice_files = True
    order = create_order(S.DELIVERED, now=utcnow())
    blue = order.invoice
    red = invoice_spec_for(
        order, today=local_date(utcnow()), total_fen=-order.price_fen, reverses=blue.number
    )
    sme = api_token(order_world.sme(order.enterprise))
    url = "/api/v1/invoices/red-letter"
    not_red = client.post(
        url,
        json={
            "invoice_files": [
                {"filename": "b.pdf", "content_base64": _b64(pdf_bytes(invoice_spec_for(order)))}
            ]
        },
        headers=sme,
    )
    assert not_red.status_code == 409 and not_red.json["code"] == "not_red_letter"
    auditor = api_token(order_world.create_user(Role.AUDITOR))
    body = {"invoice_files": [{"filename": "r.xml", "content_base64": _b64(xml_bytes(red))}]}
    assert client.post(url, json=body, headers=auditor).status_code == 403
    recorded = client.post(url, json=body, headers=sme)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["reverses_number"] == blue.number
    assert recorded.json["total_fen"] == -order.price_fen
    assert recorded.json["order_id"] == order.id and recorded.json["frozen"] is False
    again = client.post(url, json=body, headers=sme)
    assert again.status_code == 409 and again.json["code"] == "invoice_file_reused"

    page = login(order_world.provider_user(order))
    assert page.get("/orders/red-letter-invoices").status_code == 200
    refused = page.post(
        "/orders/red-letter-invoices",
        data={"invoice_file": (io.BytesIO(ofd_bytes(red)), "r.ofd")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 409  # the same number again


def test_claim_documents_are_listed_and_downloaded_only_by_those_entitled(
    session, login, settlement_world, api_token, client
):
    w = settlement_world
    w.orders.invoice_files = True
    order = w.recent_order()
    claim = w.claim(order, now=utcnow())
    [line] = claim.lines
    documents = next(i for i in line.checklist if i["rule"] == "documents")
    assert documents["passed"] and not documents["flag"]
    for label in ("发票文件", "服务协议条款", "服务/检测报告", "企业验收确认"):
        assert label in documents["detail"]
    [kept] = order.invoice.files
    url = f"/orders/invoice-files/{kept.id}"

    reviewer = login(w.reviewer)
    page = reviewer.get(f"/admin/settlement/claims/{claim.id}").get_data(as_text=True)
    assert url in page and f"/orders/{order.id}/report" in page
    download = reviewer.get(url)
    assert download.status_code == 200 and download.data.startswith(b"<?xml")
    assert download.headers["Cache-Control"] == "private, no-store"
    for user in (
        w.finance,
        w.create_user(Role.AUDITOR),
        w.seller(order),
        w.orders.sme(order.enterprise),
    ):
        assert login(user).get(url).status_code == 200
        assert (
            client.get(f"/api/v1/invoice-files/{kept.id}", headers=api_token(user)).status_code
            == 200
        )
    outsiders = [
        w.create_user(Role.SYSADMIN),
        w.seller(w.order()),  # another provider
    ]
    for user in outsiders:
        assert login(user).get(url).status_code == 404
        api = client.get(f"/api/v1/invoice-files/{kept.id}", headers=api_token(user))
        assert api.status_code == 404
    assert login(w.reviewer).get("/orders/invoice-files/999999999").status_code == 404
