"""Finance pages: who may see and act, receipts, refunds and sync through the forms."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.enums import Role
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.models import Payment, PaymentRefund
from tests.conftest import rows
from tests.support.fixtures import AuthActions, second_factor_code


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.PROVIDER, Role.REVIEWER, Role.SYSADMIN])
def test_other_roles_are_refused(client, auth, create_user, create_payment, role):
    payment = create_payment()
    auth.login(create_user(role))
    assert client.get("/admin/payments").status_code == 403
    assert client.get(f"/admin/payments/{payment.id}").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, create_payment):
    response = client.get("/admin/payments")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_list_filters_and_shows_money(client, auth, finance, create_payment):
    create_payment(reference="order:1001", amount_fen=123_456)
    create_payment(
        reference="claim:7",
        status=PaymentStatus.SUCCEEDED,
        gateway=GatewayKind.STRIPE,
        external_id="pi_x",
    )
    auth.login(finance)
    page = client.get("/admin/payments?lang=en").get_data(as_text=True)
    assert "order:1001" in page and "claim:7" in page and "¥1,234.56" in page
    only_paid = client.get("/admin/payments?status=succeeded").get_data(as_text=True)
    assert "claim:7" in only_paid and "order:1001" not in only_paid
    by_ref = client.get("/admin/payments?reference=order:").get_data(as_text=True)
    assert "order:1001" in by_ref and "claim:7" not in by_ref
    home = client.get("/admin/").get_data(as_text=True)
    assert "/admin/payments" in home  # the navigation links the finance pages


def test_finance_records_a_receipt(client, auth, finance, create_payment, session):
    payment = create_payment(amount_fen=50_000)
    auth.login(finance)
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert payment.remittance_code in page and 'name="bank_reference"' in page

    response = client.post(
        f"/admin/payments/{payment.id}/receipt",
        data={"bank_reference": "ICBC-778", "amount": "500.00", "version": str(payment.version)},
    )

    assert response.status_code == 302
    session.expire_all()
    assert (payment.status, payment.external_id, payment.recorded_by_id) == (
        PaymentStatus.SUCCEEDED,
        "ICBC-778",
        finance.id,
    )
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ICBC-778" in shown and "付款：已支付" in shown  # payment.succeeded, labelled


def test_receipt_mistakes_are_shown_and_change_nothing(
    client, auth, finance, create_payment, session
):
    payment = create_payment(amount_fen=50_000)
    auth.login(finance)
    url = f"/admin/payments/{payment.id}/receipt"
    wrong = client.post(
        url, data={"bank_reference": "B-1", "amount": "499.99", "version": str(payment.version)}
    )
    assert wrong.status_code == 422
    assert "与应付" in wrong.get_data(as_text=True)  # the Chinese side on a Chinese page
    unreadable = client.post(
        url, data={"bank_reference": "B-1", "amount": "五百", "version": str(payment.version)}
    )
    assert unreadable.status_code == 400
    stale = client.post(
        url, data={"bank_reference": "B-1", "amount": "500", "version": str(payment.version + 5)}
    )
    assert stale.status_code == 412
    session.expire_all()
    assert payment.status is PaymentStatus.PENDING and payment.external_id is None


def test_auditors_read_but_cannot_act(client, auth, auditor, create_payment, session):
    payment = create_payment()
    auth.login(auditor)
    page = client.get(f"/admin/payments/{payment.id}")
    assert page.status_code == 200 and 'name="bank_reference"' not in page.get_data(as_text=True)
    response = client.post(
        f"/admin/payments/{payment.id}/receipt", data={"bank_reference": "X", "amount": "1500"}
    )
    assert response.status_code == 403
    session.expire_all()
    assert payment.status is PaymentStatus.PENDING


def test_offline_refunds_through_the_form(client, auth, finance, create_payment, session):
    payment = create_payment(amount_fen=10_000, status=PaymentStatus.SUCCEEDED, external_id="IN-9")
    auth.login(finance)
    url = f"/admin/payments/{payment.id}/refunds"
    ok = client.post(
        url,
        data={
            "amount": "30",
            "reason": "部分服务取消",
            "bank_reference": "OUT-9",
            "version": str(payment.version),
        },
    )
    assert ok.status_code == 302
    session.refresh(payment)  # the refund changed the payment: forms carry the new version
    too_much = client.post(
        url,
        data={
            "amount": "70.01",
            "reason": "x",
            "bank_reference": "OUT-10",
            "version": str(payment.version),
        },
    )
    assert too_much.status_code == 409
    assert "exceeds what may still be refunded" in too_much.get_data(as_text=True)
    no_ref = client.post(url, data={"amount": "1", "reason": "x", "version": str(payment.version)})
    assert no_ref.status_code == 422
    session.expire_all()
    assert payment.refunded_fen == 3_000
    assert [
        (r.amount_fen, r.external_id)
        for r in rows(session, PaymentRefund, PaymentRefund.payment_id == payment.id)
    ] == [(3_000, "OUT-9")]


def test_unknown_payment_is_404(client, auth, finance):
    auth.login(finance)
    assert client.get("/admin/payments/999999").status_code == 404
    assert (
        client.post(
            "/admin/payments/999999/receipt", data={"bank_reference": "x", "amount": "1"}
        ).status_code
        == 404
    )


def test_stripe_refund_and_sync_through_the_pages(
    stripe_app, session, create_user, dashboard, stripe_ctx
):
    from marketplace.db import commit
    from marketplace.payments import services
    from tests.support.payment_fixtures import unique_reference

    payment = services.start_payment(session, unique_reference(), 8_000, description="在线支付")
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)

    client = stripe_app.test_client()
    finance = create_user(Role.FINANCE)
    AuthActions(client).login(finance)
    assert client.post(f"/admin/payments/{payment.id}/sync").status_code == 302
    session.expire_all()
    assert payment.status is PaymentStatus.SUCCEEDED

    response = client.post(
        f"/admin/payments/{payment.id}/refunds",
        data={"amount": "20.00", "reason": "服务延期", "version": str(payment.version)},
    )
    assert response.status_code == 302
    session.expire_all()
    [refund] = rows(session, PaymentRefund, PaymentRefund.payment_id == payment.id)
    # The request committed, then the Stripe refund ran (inline job) with key refund-<id>.
    assert (refund.status, refund.amount_fen) == (RefundStatus.SUCCEEDED, 2_000)
    assert refund.external_id in {
        r["id"]
        for r in dashboard.client.v1.refunds.list(
            params={"payment_intent": payment.external_id}
        ).to_dict()["data"]
    }
    assert payment.refunded_fen == 2_000


def test_forms_carry_csrf_tokens(make_app, create_user, create_payment, session):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    payment = create_payment()
    finance = create_user(Role.FINANCE)
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    step = client.post(
        "/login",
        data={"email": finance.email, "password": "correct-horse-battery", "csrf_token": token},
    ).headers["Location"]
    # Finance signs in with the second factor, on a form that carries its own CSRF token.
    step_page = client.get(step).get_data(as_text=True)
    token = step_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    signed_in = client.post(
        step, data={"code": second_factor_code(session, finance), "csrf_token": token}
    )
    assert signed_in.status_code == 302
    refused = client.post(
        f"/admin/payments/{payment.id}/receipt", data={"bank_reference": "X", "amount": "1500"}
    )
    assert refused.status_code == 400
    assert 'name="csrf_token"' in client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)


def test_the_sme_pays_by_card_on_the_order_page(stripe_app, session, order_world, dashboard):
    from marketplace.orders.enums import OrderStatus
    from marketplace.payments import services

    order = order_world.create(OrderStatus.AGREED, app=stripe_app)
    sme = stripe_app.test_client()
    assert AuthActions(sme).login(order_world.sme(order)).status_code == 302
    response = sme.get(f"/orders/{order.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    session.expire_all()
    payment = services.live_payment(session, f"order:{order.id}")
    intent = dashboard.client.v1.payment_intents.retrieve(payment.external_id)
    assert f'data-client-secret="{intent.client_secret}"' in page
    assert 'data-publishable-key="pk_test_local"' in page
    assert '<script src="https://js.stripe.com/v3/"></script>' in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com;" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy

    # The provider sees the same order without the form, under the strict policy.
    seller = stripe_app.test_client()
    assert AuthActions(seller).login(order_world.provider_user(order)).status_code == 302
    other = seller.get(f"/orders/{order.id}")
    assert "card-payment" not in other.get_data(as_text=True)
    assert "stripe.com" not in other.headers["Content-Security-Policy"]


def test_bank_transfer_orders_load_nothing_from_stripe(app, order_world):
    from marketplace.orders.enums import OrderStatus

    order = order_world.create(OrderStatus.AGREED)
    sme = app.test_client()
    assert AuthActions(sme).login(order_world.sme(order)).status_code == 302
    response = sme.get(f"/orders/{order.id}")
    assert 'data-testid="transfer-reference"' in response.get_data(as_text=True)
    assert "stripe" not in response.get_data(as_text=True).lower()
    assert "stripe.com" not in response.headers["Content-Security-Policy"]


def test_an_order_payment_page_sends_refunds_to_the_order(app, session, order_world):
    from marketplace.orders.enums import OrderStatus

    order = order_world.create(OrderStatus.PAID)
    payment = session.scalar(sa.select(Payment).where(Payment.reference == f"order:{order.id}"))
    finance = app.test_client()
    assert AuthActions(finance).login(order_world.staff(Role.FINANCE)).status_code == 302
    page = finance.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert 'data-testid="refund-elsewhere"' in page and f'href="/orders/{order.id}"' in page
    assert f'action="/admin/payments/{payment.id}/refunds"' not in page
    refused = finance.post(
        f"/admin/payments/{payment.id}/refunds",
        data={"amount": "10.00", "reason": "好意", "bank_reference": "GW-1", "version": "1"},
    )
    assert refused.status_code == 409
