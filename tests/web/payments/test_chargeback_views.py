"""Chargebacks where finance looks: the payment page and the payments API (both databases).

The chargeback is recorded through the service the webhooks use
(``services.apply_gateway_dispute``); the webhook path itself is tested in
``tests/integration/payments/test_chargebacks.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace.payments import services
from marketplace.payments.enums import GatewayKind, PaymentDisputeStatus, PaymentStatus
from marketplace.payments.gateway import GatewayDispute


@pytest.fixture
def charged_back(app, session, create_payment):
    payment = create_payment(
        amount_fen=40_000,
        status=PaymentStatus.SUCCEEDED,
        gateway=GatewayKind.STRIPE,
        external_id="pi_views",
    )
    with app.app_context():
        assert services.apply_gateway_dispute(
            session,
            payment,
            GatewayDispute(
                external_id="dp_views",
                status=PaymentDisputeStatus.OPEN,
                gateway_status="needs_response",
                amount_fen=15_000,
                currency="CNY",
                opened_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
                payment_external_id="pi_views",
                charge_external_id="ch_views",
                reason="fraudulent",
            ),
        )
    session.flush()
    return payment


def test_the_payment_page_shows_the_chargeback(client, auth, finance, charged_back):
    auth.login(finance)
    page = client.get(f"/admin/payments/{charged_back.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="disputes"' in page and "dp_views" in page
    assert (
        "needs_response" in page and "fraudulent" in page and "2026-11-20 16:30" in page
    )  # Beijing time
    assert 'data-testid="disputed">¥150.00' in page
    assert 'data-testid="refundable">¥250.00' in page
    assert "payment.dispute_opened" in page  # the history

    zh = client.get(f"/admin/payments/{charged_back.id}?lang=zh").get_data(as_text=True)
    assert "拒付记录" in zh and "拒付处理中" in zh


def test_a_payment_without_chargebacks_shows_none(client, auth, finance, create_payment):
    payment = create_payment(status=PaymentStatus.SUCCEEDED, external_id="IN-1")
    auth.login(finance)
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert 'data-testid="disputes"' not in page and 'data-testid="disputed"' not in page


def test_the_api_shows_the_chargeback(client, api_token, finance, charged_back):
    headers = api_token(finance)
    body = client.get(f"/api/v1/payments/{charged_back.id}", headers=headers).json
    assert (body["disputed_fen"], body["refundable_fen"]) == (15_000, 25_000)
    [dispute] = body["disputes"]
    assert dispute == {
        "id": dispute["id"],
        "payment_id": charged_back.id,
        "gateway": "stripe",
        "external_id": "dp_views",
        "charge_external_id": "ch_views",
        "amount_fen": 15_000,
        "status": "open",
        "gateway_status": "needs_response",
        "reason": "fraudulent",
        "opened_at": dispute["opened_at"],
        "closed_at": None,
    }
    assert dispute["opened_at"].startswith("2026-11-20")
    by_status = client.get("/api/v1/payments?status=succeeded", headers=headers).json["items"]
    [row] = [p for p in by_status if p["id"] == charged_back.id]
    assert (row["disputed_fen"], row["refundable_fen"]) == (15_000, 25_000)


def test_the_openapi_document_describes_chargebacks(client):
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    detail = next(s for name, s in schemas.items() if name.startswith("PaymentDetail"))
    assert {"disputed_fen", "disputes", "refundable_fen"} <= set(detail["properties"])
