"""The dashboard's figures against a dataset computed by hand (issue 11, point 7).

Two SMEs in 昆明市 (五华区 530102 and 盘龙区 530103), each issued a ¥20,000 voucher on
15 June 2026; one provider; orders at a 50 % ceiling:
  A  五华区  ¥2,000  confirmed → ¥1,000 of voucher money captured in June
  B  盘龙区  ¥3,000  confirmed → ¥1,500 captured in June
  C  五华区  ¥1,234.56 agreed  → held, not redeemed
A was paid out ten days after its agreement. Both round prices are flagged; A reports one
patent application, B three certifications and a new product: ¥2,500 of voucher money, so per
¥10,000 1 patent is 4, 3 certifications 12, 1 new product 4 (×100: 400, 1200, 400), the same
for the programme, the category and 昆明市.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from marketplace.disclosure import dashboard
from marketplace.enums import ServiceCategory
from marketplace.orders.enums import Actor, OrderAction, OrderStatus
from marketplace.orders.models import OrderEvent
from marketplace.outcomes import services as outcomes
from marketplace.outcomes.enums import PatentType
from marketplace.risk import services as risk
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR


def test_dashboard_figures_match_the_hand_computed_dataset(
    orders_ctx, session, order_world, create_order, create_enterprise, create_service
):
    service = create_service()
    wuhua, panlong = create_enterprise(division="530102"), create_enterprise(division="530103")
    a = create_order(OrderStatus.CONFIRMED, price_fen=200_000, enterprise=wuhua, service=service)
    b = create_order(OrderStatus.CONFIRMED, price_fen=300_000, enterprise=panlong, service=service)
    c = create_order(OrderStatus.AGREED, price_fen=123_456, enterprise=wuhua, service=service)
    session.add(
        OrderEvent(
            order_id=a.id,
            occurred_at=VOUCHER_NOW + timedelta(days=10),
            actor=Actor.SYSTEM,
            action=OrderAction.PAY_OUT,
            from_status=OrderStatus.CLAIM_APPROVED,
            to_status=OrderStatus.PAID_OUT,
        )
    )
    session.flush()
    risk.assess(session)
    outcomes.record_outcome(
        session,
        a,
        order_world.sme(a),
        outcomes.OutcomeInput(patents=(("CN202610001234.5", PatentType.INVENTION),)),
    )
    outcomes.record_outcome(
        session,
        b,
        order_world.sme(b),
        outcomes.OutcomeInput(certifications=3, new_products=1, revenue_effect_fen=5_000_000),
    )

    f = dashboard.figures(session, VOUCHER_YEAR)

    (budget,) = f["budgets"]
    assert budget["name"] == a.voucher.programme.name
    assert (
        budget["total_fen"],
        budget["issued_fen"],
        budget["spent_fen"],
        budget["settled_fen"],
    ) == (
        100_000_000,
        4_000_000,
        250_000,
        0,
    )
    assert budget["redemption_bps"] == 625  # 2,500 of 400,000 yuan-cents… 250,000 / 4,000,000
    june = f["months"][5]
    assert (june["month"], june["issued_fen"], june["redeemed_fen"]) == (6, 4_000_000, 250_000)
    assert sum(m["issued_fen"] for m in f["months"]) == 4_000_000
    assert [(r["code"], r["name"], r["issued_fen"], r["redeemed_fen"]) for r in f["counties"]] == [
        ("530102", "五华区", 2_000_000, 100_000),
        ("530103", "盘龙区", 2_000_000, 150_000),
    ]
    assert f["prefectures"] == [
        {"code": "530100", "name": "昆明市", "issued_fen": 4_000_000, "redeemed_fen": 250_000}
    ]
    (category,) = f["categories"]
    assert (category["category"], category["orders"], category["redeemed_fen"]) == (
        service.category.value,
        2,
        250_000,
    )
    assert f["providers"] == [
        {
            "provider_id": service.provider_id,
            "name": service.provider.name,
            "orders": 2,
            "redeemed_fen": 250_000,
        }
    ]
    days = f["payout_days"]
    assert (days["orders"], days["median_days"]) == (1, 10)
    assert [b["orders"] for b in days["buckets"]] == [0, 1, 0, 0, 0]
    flags = {row["rule"]: row["orders"] for row in f["flags"]}
    assert flags["round_price"] == 2 and flags["same_day"] == 0
    assert {row["outcome"]: row["count"] for row in f["findings"]} == {"cleared": 0, "irregular": 0}
    (outcome,) = f["outcomes"]
    assert outcome["programme_id"] == a.voucher.programme_id
    (by_category,) = f["outcomes_by_category"]
    (by_prefecture,) = f["outcomes_by_prefecture"]
    assert (by_category["key"], by_prefecture["key"], by_prefecture["name"]) == (
        service.category.value,
        "530100",
        "云南省昆明市",
    )
    for row in (outcome, by_category, by_prefecture):
        assert (row["orders"], row["reported"], row["voucher_fen"]) == (2, 2, 250_000)
        assert (row["patents"], row["certifications"], row["new_products"]) == (1, 3, 1)
        assert row["revenue_effect_fen"] == 5_000_000
        assert (
            row["patents_per_10k_x100"],
            row["certifications_per_10k_x100"],
            row["new_products_per_10k_x100"],
            row["high_tech_per_10k_x100"],
        ) == (400, 1200, 400, 0)
    # The records behind an outcome row: the completed orders, reported or not.
    kunming = outcomes.Scope(year=VOUCHER_YEAR, prefecture="530100")
    assert [(o.id, r is not None) for o, r in outcomes.records(session, kunming)] == [
        (b.id, True),
        (a.id, True),
    ]
    other = next(c for c in ServiceCategory if c is not service.category)
    assert outcomes.records(session, outcomes.Scope(year=VOUCHER_YEAR, category=other)) == []
    assert outcomes.records(session, outcomes.Scope(year=VOUCHER_YEAR + 1)) == []

    # The click-through: the orders behind a bar.
    segment = dashboard.Segment(year=VOUCHER_YEAR, region="530102")
    assert {o.id for o in dashboard.segment_orders(session, segment)} == {a.id, c.id}
    segment = dashboard.Segment(year=VOUCHER_YEAR, region="530100", month=6)
    assert {o.id for o in dashboard.segment_orders(session, segment)} == {a.id, b.id}
    other_year = dashboard.figures(session, VOUCHER_YEAR + 1)
    assert other_year["counties"] == [] and other_year["providers"] == []
    assert session.scalar(sa.select(sa.func.count()).select_from(OrderEvent)) > 0


def test_dashboard_page_api_parity_and_exports(
    client, auth, session, create_user, create_order, api_token
):
    from marketplace.enums import Role

    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    auth.login(create_user(Role.AUDITOR))
    page = client.get(f"/admin/dashboard?year={VOUCHER_YEAR}&lang=zh")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'type="application/json" id="dashboard-charts"' in html
    assert "vendor/echarts/echarts.min.js" in html and "js/dashboard.js" in html
    assert "<script>" not in html  # nothing inline: the strict CSP holds
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    xlsx = client.get(f"/admin/dashboard/budgets.xlsx?year={VOUCHER_YEAR}")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    csv_text = client.get(f"/admin/dashboard/counties.csv?year={VOUCHER_YEAR}").get_data(
        as_text=True
    )
    assert "五华区" in csv_text
    assert client.get("/admin/dashboard/nothing.csv").status_code == 404
    listed = client.get(f"/admin/dashboard/orders?year={VOUCHER_YEAR}&region=530102")
    assert listed.status_code == 200 and f"#{order.id}" in listed.get_data(as_text=True)
    assert client.get(f"/admin/dashboard/orders?year={VOUCHER_YEAR}&month=13").status_code == 404
    token = api_token(create_user(Role.REVIEWER))
    response = client.get(f"/api/v1/dashboard?year={VOUCHER_YEAR}", headers=token)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["year"] == VOUCHER_YEAR and body["budgets"][0]["spent_fen"] == 100_000
    sme = api_token(create_user(Role.ENTERPRISE))
    assert client.get("/api/v1/dashboard", headers=sme).status_code == 403
