"""The terms an order was agreed on, on the order page and in the API's order detail; and a
charged-back co-payment on the order page and in the order's payment (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders import copayment
from marketplace.orders.enums import OrderStatus as S
from marketplace.payments import services as payments
from marketplace.payments.enums import GatewayKind, PaymentDisputeStatus
from marketplace.payments.gateway import GatewayDispute
from providers.catalogue import ServiceInput, update_service


def _edit_service(app, session, order_world, service) -> None:
    with app.app_context():
        update_service(
            session,
            service.provider,
            service.id,
            ServiceInput(
                title="已改名的服务",
                category=service.category,
                description="范围缩小后的说明：仅做一项常规检测。",
                pricing=service.pricing,
                price_fen=service.price_fen,
                unit="批",
                lead_time_days=45,
            ),
            actor_id=order_world.provider_user(service.provider).id,
        )
    session.flush()


def test_the_order_page_shows_the_terms_agreed(
    app, session, login, order_world, create_order, create_service
):
    service = create_service(title="原始检测服务", unit="样品", lead_time_days=6)
    order = create_order(S.PAID, service=service, now=utcnow())
    sme = login(order_world.sme(order))
    page = sme.get(f"/orders/{order.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="agreed-terms"' in page
    assert 'data-testid="agreed-title">原始检测服务' in page
    assert 'data-testid="agreed-lead-time">6 days' in page
    assert 'data-testid="terms-changed"' not in page

    _edit_service(app, session, order_world, service)
    for user in (order_world.sme(order), order_world.provider_user(order)):
        page = login(user).get(f"/orders/{order.id}?lang=en").get_data(as_text=True)
        assert 'data-testid="agreed-title">原始检测服务' in page
        assert 'data-testid="agreed-lead-time">6 days' in page
        assert "1 样品" in page and "已改名的服务" not in page
        assert 'data-testid="terms-changed"' in page
    zh = login(order_world.staff(Role.AUDITOR)).get(f"/orders/{order.id}?lang=zh")
    assert "约定的服务条款" in zh.get_data(as_text=True)


def test_before_acceptance_the_page_has_no_agreed_terms(session, login, order_world, create_order):
    order = create_order(S.QUOTED, now=utcnow())
    page = login(order_world.sme(order)).get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'data-testid="agreed-terms"' not in page


def test_the_api_order_detail_carries_the_terms(
    app, session, client, api_token, order_world, create_order, create_service
):
    service = create_service(
        title="原始检测服务", unit="样品", lead_time_days=6, description="全项检测，出具报告。"
    )
    order = create_order(S.AGREED, service=service, now=utcnow())
    _edit_service(app, session, order_world, service)
    body = client.get(f"/api/v1/orders/{order.id}", headers=api_token(order_world.sme(order))).json
    assert body["agreed_terms"] == {
        "title": "原始检测服务",
        "category": "testing",
        "description": "全项检测，出具报告。",
        "unit": "样品",
        "lead_time_days": 6,
        "accepted_at": body["agreement_accepted_at"],
    }
    assert body["terms_changed_since"] is True

    quoted = create_order(S.QUOTED, now=utcnow())
    body = client.get(
        f"/api/v1/orders/{quoted.id}", headers=api_token(order_world.sme(quoted))
    ).json
    assert (body["agreed_terms"], body["terms_changed_since"]) == (None, False)


def test_a_charged_back_co_payment_shows_on_the_order(
    app, session, client, login, api_token, order_world, create_order
):
    order = create_order(S.PAID, now=utcnow())
    payment = copayment.payment_of(session, order)
    # A card payment (as if paid through Stripe) whose charge the SME's bank disputed.
    payment.gateway, payment.external_id = GatewayKind.STRIPE, "pi_order_views"
    session.flush()
    with app.app_context():
        payments.apply_gateway_dispute(
            session,
            payment,
            GatewayDispute(
                external_id="dp_order_views",
                status=PaymentDisputeStatus.LOST,
                gateway_status="lost",
                amount_fen=payment.amount_fen,
                currency="CNY",
                opened_at=datetime(2026, 11, 1, tzinfo=UTC),
            ),
        )
    session.flush()
    finance = order_world.staff(Role.FINANCE)
    page = login(finance).get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'data-testid="payment-disputed"' in page
    info = client.get(f"/api/v1/orders/{order.id}/payment", headers=api_token(finance)).json
    assert info["disputed_fen"] == payment.amount_fen
