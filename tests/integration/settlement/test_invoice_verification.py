"""Invoice verification behind its interface, against the local verification server on
loopback (the same HTTP contract as the real gateway), on both databases: verified, not
found, mismatch, reversed, the gateway down (flagged, asked again later), bad signatures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from marketplace.clock import local_date
from marketplace.errors import DomainError
from marketplace.invoice_verification import (
    HttpInvoiceVerifier,
    InvoiceQuery,
    LocalVerificationServer,
    Verification,
)
from marketplace.orders import delivery
from marketplace.orders.enums import OrderStatus
from tests.support.order_fixtures import invoice_spec_for, invoice_upload, report
from tests.support.payment_fixtures import free_port
from tests.support.voucher_fixtures import VOUCHER_NOW

APP_ID, SECRET = "vm-test", "s" * 32
DELIVERED = VOUCHER_NOW + timedelta(days=1)

pytestmark = pytest.mark.usefixtures("orders_ctx")


@pytest.fixture(scope="module")
def tax_office() -> Iterator[LocalVerificationServer]:
    server = LocalVerificationServer(APP_ID, SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def verifier(tax_office) -> HttpInvoiceVerifier:
    return HttpInvoiceVerifier(tax_office.url, APP_ID, SECRET)


def _query(spec) -> InvoiceQuery:
    return InvoiceQuery(
        number=spec.number,
        issued_on=spec.issued,
        total_fen=int(spec.total.replace(".", "")),
        buyer_tax_id=spec.buyer_id,
        seller_tax_id=spec.seller_id,
    )


def _deliver(w, order, spec, verifier):
    return delivery.deliver(
        w.session,
        w.orders.storage,
        order.id,
        w.orders.provider_user(order),
        invoice_files=[invoice_upload(spec)],
        report=report(),
        now=DELIVERED,
        verifier=verifier,
    )


def _confirmed(w, verifier, *, known: str | None, reversed_: bool = False, tax_office=None):
    order = w.create_order(OrderStatus.PAID)
    spec = invoice_spec_for(order, today=local_date(DELIVERED))
    if known == "same":
        tax_office.add(_query(spec), reversed_=reversed_)
    elif known == "other_amount":
        tax_office.add(_query(spec.but(total="1.00")))
    _deliver(w, order, spec, verifier)
    delivery.confirm(
        w.session, order.id, w.orders.sme(order.enterprise), now=DELIVERED + timedelta(days=1)
    )
    return order, spec


@pytest.mark.parametrize(
    ("known", "reversed_", "status"),
    [
        ("same", False, Verification.VERIFIED),
        (None, False, Verification.NOT_FOUND),
        ("other_amount", False, Verification.MISMATCH),
        ("same", True, Verification.REVERSED),
    ],
)
def test_the_answer_is_recorded_and_judged_by_the_precheck(
    settlement_world, verifier, tax_office, known, reversed_, status
):
    w = settlement_world
    order, spec = _confirmed(w, verifier, known=known, reversed_=reversed_, tax_office=tax_office)
    assert order.invoice.verification is status
    assert order.invoice.verified_at == DELIVERED
    asked = tax_office.queries[-1]
    assert asked["number"] == spec.number and asked["total_fen"] == order.price_fen
    claim = w.claim(order)
    [item] = [i for i in claim.lines[0].checklist if i["rule"] == "invoice_verified"]
    assert item["passed"] is (status is Verification.VERIFIED) and not item["flag"]
    if status is Verification.VERIFIED:
        w.review(claim)
    else:
        with pytest.raises(DomainError) as caught:
            w.review(claim)
        assert caught.value.code == "invoice_not_verified"


def test_a_gateway_that_is_down_leaves_the_invoice_flagged_and_it_is_asked_again(
    settlement_world, tax_office, make_app, session
):
    w = settlement_world
    down = HttpInvoiceVerifier(f"http://127.0.0.1:{free_port()}", APP_ID, SECRET, timeout=2)
    order, spec = _confirmed(w, down, known=None)
    assert order.invoice.verification is Verification.UNAVAILABLE
    assert order.invoice.verified_at is None
    [item] = [i for i in w.claim(order).lines[0].checklist if i["rule"] == "invoice_verified"]
    assert item["passed"] and item["flag"]

    tax_office.add(_query(spec))
    app = make_app(
        INVOICE_VERIFY_URL=tax_office.url,
        INVOICE_VERIFY_APP_ID=APP_ID,
        INVOICE_VERIFY_SECRET=SECRET,
    )
    with app.app_context():  # the command runs in this app, not the test's default one
        result = app.test_cli_runner().invoke(args=["invoices", "verify-pending"])
    assert result.exit_code == 0, result.output
    assert "verified 1" in result.output
    session.refresh(order.invoice)
    assert order.invoice.verification is Verification.VERIFIED


def test_a_wrong_secret_is_refused_by_the_server(tax_office):
    forged = HttpInvoiceVerifier(tax_office.url, APP_ID, "x" * 32)
    before = len(tax_office.queries)
    result = forged.verify(
        InvoiceQuery("26532000000000000001", DELIVERED.date(), 100, "A" * 18, "B" * 18)
    )
    assert result.status is Verification.UNAVAILABLE
    assert len(tax_office.queries) == before  # the server never answered it


def test_verify_pending_needs_a_gateway(make_app):
    app = make_app()
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["invoices", "verify-pending"])
    assert result.exit_code != 0 and "INVOICE_VERIFY_URL" in result.output
