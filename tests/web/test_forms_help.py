"""Issue 13, point 5: forms that help. A domain error shows at the field it is about (not only
at the top of the page), and a form shown again asks for its files again at their fields."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from flask_wtf import FlaskForm
from wtforms import StringField

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError, ValidationFailed
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from marketplace.web.forms import YuanField, place_error
from providers.enums import ProviderStatus
from tests.support.einvoice_files import xml_bytes
from tests.support.order_fixtures import digital_invoice_number, invoice_spec_for
from tests.support.provider_fixtures import PDF


def _field_block(html: str, name: str) -> str:
    """The HTML of the ``.field`` that holds the control named ``name``."""
    control = html.index(f'name="{name}"')
    start = html.rindex('class="field', 0, control)
    end = html.find('class="field', control)
    return html[start : end if end != -1 else None]


def _refused_delivery(seller, order, **data) -> str:
    """The delivery page shown again after the service refused ``data`` (a conflict)."""
    response = seller.post(
        f"/orders/{order.id}/deliver",
        data={**data, "version": str(order.version)},
        content_type="multipart/form-data",
        query_string={"lang": "en"},
    )
    assert response.status_code == 409
    return response.get_data(as_text=True)


def _order(session, order_id) -> Order:
    session.expire_all()
    return session.get(Order, order_id)


class _Form(FlaskForm):
    class Meta:
        csrf = False

    price = YuanField("price")
    invoice_number = StringField("number")
    reason = StringField("reason")

    error_fields = {"number": "invoice_number"}


def test_place_error_finds_the_field_by_every_name(app):
    with app.test_request_context():
        form = _Form()
        assert place_error(form, DomainError("too low", field="price_fen")) == []
        assert form.price.errors == ["too low"]
        assert place_error(form, DomainError("used", field="number")) == []
        assert form.invoice_number.errors == ["used"]
        # The caller's mapping for this request wins over the form's.
        mapped = DomainError("give one", field="why")
        assert place_error(form, mapped, {"why": "reason"}) == []
        assert form.reason.errors == ["give one"]
        # Several fields at once; what no field takes comes back for the top of the page.
        several = ValidationFailed("bad", {"price_fen": ["p"], "elsewhere": ["e"]})
        assert place_error(form, several) == ["e"]
        assert form.price.errors == ["too low", "p"]
        # No field named: nothing placed, the message stays at the top.
        assert place_error(form, DomainError("closed")) == []
        assert place_error(None, DomainError("x", field="price_fen")) == ["x"]


def test_a_typed_invoice_date_shows_at_its_field_and_the_report_is_asked_again(
    session, login, order_world, create_order
):
    order = create_order(S.PAID, now=utcnow())
    seller = login(order_world.provider_user(order))
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    html = _refused_delivery(
        seller,
        order,
        invoice_number=digital_invoice_number(),
        issued_on=tomorrow.isoformat(),
        amount="2000.00",
        buyer_taxpayer_id=order.enterprise.credit_code,
        seller_taxpayer_id=order.provider.credit_code,
        report=(io.BytesIO(PDF), "服务报告.pdf"),
    )
    date_field = _field_block(html, "issued_on")
    assert "has-error" in date_field and "the invoice date must lie between" in date_field
    assert 'aria-invalid="true"' in date_field
    # The page is open at the paper invoice, and the chosen report is asked for again.
    assert re.search(r'<details class="full" open data-testid="paper-invoice"', html)
    report = _field_block(html, "report")
    assert 'data-testid="choose-again"' in report and "服务报告.pdf" in report
    assert 'aria-describedby="report-again"' in report
    # A field left alone says nothing.
    assert "has-error" not in _field_block(html, "invoice_number")
    assert _order(session, order.id).status is S.PAID


def test_an_invoice_read_from_its_file_is_wrong_at_the_file_field(
    session, login, order_world, create_order
):
    order = create_order(S.PAID, now=utcnow())
    seller = login(order_world.provider_user(order))
    spec = invoice_spec_for(order, today=local_date(utcnow()), total_fen=order.price_fen + 100)
    html = _refused_delivery(
        seller,
        order,
        invoice_file=(io.BytesIO(xml_bytes(spec)), "发票.xml"),
        report=(io.BytesIO(PDF), "r.pdf"),
    )
    file_field = _field_block(html, "invoice_file")
    assert "has-error" in file_field and "differs from the order price" in file_field
    assert "发票.xml" in file_field  # asked again, by the name chosen
    assert 'aria-describedby="invoice_file-err invoice_file-again"' in file_field
    # Not at the typed amount, which the provider did not type.
    assert "has-error" not in _field_block(html, "amount")


def test_a_quoted_price_of_zero_is_refused_at_the_price(session, login, order_world, create_order):
    order = create_order(S.REQUESTED, now=utcnow())
    seller = login(order_world.provider_user(order))
    response = seller.post(
        f"/orders/{order.id}/quote",
        data={"price": "0", "version": str(order.version)},
        query_string={"lang": "en"},
    )
    assert response.status_code in {409, 422}
    price = _field_block(response.get_data(as_text=True), "price")
    assert "has-error" in price and 'class="error"' in price
    assert _order(session, order.id).status is S.REQUESTED


def test_a_bank_account_in_another_name_is_refused_at_the_account_name(
    client, auth, session, create_user, create_provider
):
    provider_user = create_user(
        Role.PROVIDER, provider=create_provider(status=ProviderStatus.PENDING)
    )
    auth.login(provider_user)
    provider = provider_user.provider
    response = client.post(
        "/provider/application",
        data={
            "version": str(provider.version),
            "accreditation_level": "provincial",
            "service_categories": ["testing"],
            "description": "省级检验检测机构。",
            "contact_name": "张伟",
            "contact_phone": "0871-65550000",
            "contact_email": "zw@example.cn",
            "bank_account_name": "某某贸易有限公司",
            "bank_name": "中国工商银行昆明分行",
            "bank_account_number": "2502010009000012345",
        },
        query_string={"lang": "en"},
    )
    assert response.status_code == 422
    account = _field_block(response.get_data(as_text=True), "bank_account_name")
    assert "has-error" in account and "registered name" in account
