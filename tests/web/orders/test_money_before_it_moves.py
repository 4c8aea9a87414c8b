"""Issue 13, point 3: accepting a quote preselects the voucher that covers the most and
shows the voucher part, the co-payment, the allowance left and why, before anything moves:
live through a small script, and without it through a "show the amounts" step."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from tests.support.fixtures import AuthActions
from vouchers.enums import ProgrammeKind


@pytest.fixture
def now():
    return utcnow()


@pytest.fixture
def world(app, session, order_world, create_service, now):
    """An SME with two vouchers (¥500 and ¥3,000) and a quoted order of ¥2,400."""
    year = local_date(now).year
    programme = order_world.programme(year)
    other = order_world.funded_programme(year=year, kind=ProgrammeKind.SERVICE)
    enterprise = order_world.create_enterprise()
    small = order_world.issue_voucher(enterprise, programme, amount_fen=50_000, now=now)
    big = order_world.issue_voucher(enterprise, other, amount_fen=300_000, now=now)
    service = create_service(price_fen=240_000)
    order_world.admit(service.provider, programme)
    order_world.admit(service.provider, other)
    sme = app.test_client()
    assert AuthActions(sme).login(order_world.sme(enterprise)).status_code == 302
    seller = app.test_client()
    assert AuthActions(seller).login(order_world.provider_user(service.provider)).status_code == 302
    sent = sme.post(f"/orders/new?service_id={service.id}", data={"quantity": "1", "note": "x"})
    order_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert (
        seller.post(f"/orders/{order_id}/quote", data={"price": "", "version": "1"}).status_code
        == 302
    )
    return sme, order_id, small, big


def _selected(page: str) -> str:
    match = re.search(r'<option selected value="(\d*)"|<option value="(\d*)" selected', page)
    assert match, "no voucher preselected"
    return match.group(1) or match.group(2)


def _field(page: str, name: str) -> str:
    return re.search(rf'data-testid="split-{name}"[^>]*>(?:<strong>)?([^<]*)<', page).group(1)


def test_the_voucher_covering_most_is_preselected_with_its_split(world):
    sme, order_id, _small, big = world
    page = sme.get(f"/orders/{order_id}").get_data(as_text=True)
    assert _selected(page) == str(big.id)
    # ¥2,400: the 50 % ceiling gives ¥1,200 from the ¥3,000 voucher, ¥1,200 to pay
    assert _field(page, "voucher") == "¥1,200.00"
    assert _field(page, "copay") == "¥1,200.00"
    assert _field(page, "remaining") == "¥28,800.00"  # ¥30,000 − ¥1,200
    assert "最多抵扣服务价格的 50%" in _field(page, "why")


def test_the_preview_step_without_javascript_changes_nothing(session, world):
    sme, order_id, small, _big = world
    shown = sme.post(
        f"/orders/{order_id}/accept",
        data={"voucher_id": str(small.id), "requested": "", "preview": "1", "version": "2"},
    )
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert _selected(page) == str(small.id)
    assert _field(page, "voucher") == "¥500.00" and _field(page, "copay") == "¥1,900.00"
    assert "受电子券余额限制" in page
    session.expire_all()
    assert session.get(Order, order_id).status is S.QUOTED  # nothing moved


def test_the_live_figures_follow_the_choice_and_the_amount(world):
    sme, order_id, _small, big = world
    url = f"/orders/{order_id}/accept-preview"
    asked = sme.get(url, query_string={"voucher_id": str(big.id), "requested": "300"}).json
    assert asked == {
        "voucher": "¥300.00",
        "copay": "¥2,100.00",
        "remaining_after": "¥29,700.00",
        "why": "按您填写的金额。",
    }
    none = sme.get(url, query_string={"voucher_id": ""}).json
    assert none["voucher"] == "¥0.00" and none["copay"] == "¥2,400.00"
    bad = sme.get(url, query_string={"voucher_id": str(big.id), "requested": "1.234"})
    assert bad.status_code == 422 and "error" in bad.json


def test_the_live_figures_are_the_smes_alone(app, order_world, world):
    _sme, order_id, _small, _big = world
    other = app.test_client()
    assert (
        AuthActions(other).login(order_world.sme(order_world.create_enterprise())).status_code
        == 302
    )
    assert other.get(f"/orders/{order_id}/accept-preview").status_code == 404


def test_accepting_after_the_preview_holds_what_was_shown(session, world):
    sme, order_id, _small, big = world
    accepted = sme.post(
        f"/orders/{order_id}/accept",
        data={"voucher_id": str(big.id), "requested": "", "agree": "y", "version": "2"},
    )
    assert accepted.status_code == 302
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.voucher_part_fen, order.co_payment_fen) == (120_000, 120_000)


def test_the_co_payment_page_names_payee_amount_reference_and_deadline(session, world):
    sme, order_id, _small, big = world
    sme.post(
        f"/orders/{order_id}/accept",
        data={"voucher_id": str(big.id), "requested": "", "agree": "y", "version": "2"},
    )
    session.expire_all()
    order = session.get(Order, order_id)
    order.provider.bank_account_name = order.provider.name
    order.provider.bank_name = "中国工商银行昆明分行"
    order.provider.bank_account_number = "2502012345678901234"
    session.flush()
    page = sme.get(f"/orders/{order_id}").get_data(as_text=True)
    transfer = page.split('data-testid="transfer"')[1].split("</div>")[0]
    assert order.provider.name in transfer and "中国工商银行昆明分行" in transfer
    assert 'data-copy="2502012345678901234"' in transfer
    assert (
        'data-testid="transfer-amount">¥1200.00<' in transfer and 'data-copy="1200.00"' in transfer
    )
    reference = re.search(r'data-testid="transfer-reference">(VM\d{8})<', transfer).group(1)
    assert f'data-copy="{reference}"' in transfer
    deadline = local_date(order.agreement_accepted_at.replace(tzinfo=UTC)) + timedelta(days=7)
    assert f'data-testid="transfer-deadline">{deadline}<' in transfer
