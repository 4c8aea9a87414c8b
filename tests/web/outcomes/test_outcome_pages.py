"""The outcome page and the outcomes API."""

from __future__ import annotations

from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.outcomes.models import OrderOutcome


def test_sme_records_outcomes_on_the_page(client, auth, session, order_world, create_order):
    order = create_order(OrderStatus.CONFIRMED)
    auth.login(order_world.sme(order))
    assert "outcome-link" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    page = client.get(f"/orders/{order.id}/outcome?lang=zh")
    assert page.status_code == 200
    bad = client.post(
        f"/orders/{order.id}/outcome",
        data={"patents": "x invention", "revenue_effect": "abc", "cost_effect": "0"},
    )
    assert bad.status_code in {400, 422}
    saved = client.post(
        f"/orders/{order.id}/outcome",
        data={
            "patents": "CN202710001234.5 invention\nCN202720005678.9 utility_model",
            "certifications": "1",
            "high_tech_recognised": "y",
            "revenue_effect": "12,000.50",
            "cost_effect": "0",
            "notes": "新产品上市",
        },
    )
    assert saved.status_code == 302
    outcome = session.query(OrderOutcome).filter_by(order_id=order.id).one()
    assert outcome.patent_count == 2 and outcome.revenue_effect_fen == 1_200_050
    assert outcome.high_tech_recognised


def test_providers_never_see_outcomes_and_auditors_only_read(
    client, auth, order_world, create_order, create_user
):
    order = create_order(OrderStatus.CONFIRMED)
    auth.login(order_world.provider_user(order))
    assert client.get(f"/orders/{order.id}/outcome").status_code == 404
    auth.logout()
    auth.login(create_user(Role.AUDITOR))
    assert client.get(f"/orders/{order.id}/outcome").status_code == 200
    assert client.post(f"/orders/{order.id}/outcome", data={}).status_code == 403


def test_outcomes_api(client, order_world, create_order, create_user, api_token):
    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    sme = api_token(order_world.sme(order))
    body = {
        "patents": [{"number": "CN202710001234.5", "type": "invention"}],
        "certifications": 2,
        "high_tech_recognised": True,
    }
    put = client.put(f"/api/v1/orders/{order.id}/outcome", json=body, headers=sme)
    assert put.status_code == 200 and put.get_json()["patent_count"] == 1
    stale = client.put(
        f"/api/v1/orders/{order.id}/outcome", json={**body, "version": 9}, headers=sme
    )
    assert stale.status_code == 412
    bad = client.put(f"/api/v1/orders/{order.id}/outcome", json={"certifications": -1}, headers=sme)
    assert bad.status_code == 422
    admin = api_token(create_user(Role.AUDITOR))
    assert client.get(f"/api/v1/orders/{order.id}/outcome", headers=admin).status_code == 200
    summary = client.get("/api/v1/outcomes/summary?by=category&year=2026", headers=admin).get_json()
    assert summary[0]["patents"] == 1 and summary[0]["per_10k_x100"]["patents"] == 1000
    provider = api_token(order_world.provider_user(order))
    assert client.get(f"/api/v1/orders/{order.id}/outcome", headers=provider).status_code == 404
    assert client.get("/api/v1/outcomes/summary", headers=sme).status_code == 403
