"""An order confirmed after the voucher's claim deadline shows its lapsed voucher part on the
order page (both languages) and in the API's order detail."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.orders import delivery
from marketplace.orders.enums import OrderStatus as S
from tests.support.fixtures import AuthActions
from tests.support.voucher_fixtures import VOUCHER_YEAR

LATE = datetime(VOUCHER_YEAR + 1, 4, 2, 4, tzinfo=UTC)


def test_the_order_page_and_the_api_show_the_lapse(app, order_world, create_order, api_token):
    order = create_order(S.DELIVERED)
    sme = order_world.sme(order)
    with app.app_context():
        delivery.confirm(order_world.session, order.id, sme, now=LATE)
    client = app.test_client()
    assert AuthActions(client).login(sme).status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "已失效的券抵扣部分" in page
    assert 'data-testid="voucher-lapsed">¥1,000.00' in page
    assert "不能申请兑付" in page
    english = client.get(f"/orders/{order.id}?lang=en").get_data(as_text=True)
    assert "Voucher part lapsed" in english and "cannot be claimed" in english

    seller = order_world.provider_user(order)
    response = app.test_client().get(f"/api/v1/orders/{order.id}", headers=api_token(seller))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["voucher_lapsed_fen"], body["voucher_part_fen"]) == (100_000, 100_000)
    assert body["events"][-1]["detail"]["voucher_lapsed_fen"] == 100_000


def test_a_normal_order_shows_no_lapse(app, order_world, create_order, api_token):
    order = create_order(S.CONFIRMED)
    client = app.test_client()
    assert AuthActions(client).login(order_world.sme(order)).status_code == 302
    assert 'data-testid="voucher-lapsed"' not in client.get(f"/orders/{order.id}").get_data(
        as_text=True
    )
    body = (
        app.test_client()
        .get(f"/api/v1/orders/{order.id}", headers=api_token(order_world.sme(order)))
        .get_json()
    )
    assert body["voucher_lapsed_fen"] == 0


def test_confirming_after_the_deadline_is_announced_before_it_happens(
    app, session, order_world, create_order
):
    from datetime import timedelta

    from marketplace.clock import local_date
    from marketplace.db import utcnow

    order = create_order(S.DELIVERED)
    client = app.test_client()
    assert AuthActions(client).login(order_world.sme(order)).status_code == 302
    in_time = client.get(f"/orders/{order.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="lapse-warning"' not in in_time and "Confirming pays" in in_time

    today = local_date(utcnow())
    voucher = order.voucher
    voucher.valid_from = min(voucher.valid_from, today - timedelta(days=30))
    voucher.use_by, voucher.claim_deadline = today - timedelta(days=2), today - timedelta(days=1)
    session.flush()
    late = client.get(f"/orders/{order.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="lapse-warning"' in late
    assert "can no longer be paid to the provider" in late and "¥1,000.00" in late
