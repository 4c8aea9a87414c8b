"""The outcome page and the outcomes API."""

from __future__ import annotations

from datetime import timedelta

from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.outcomes import services
from marketplace.outcomes.enums import PatentType
from marketplace.outcomes.models import OrderOutcome
from tests.support.voucher_fixtures import VOUCHER_YEAR


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
    records = client.get(
        f"/api/v1/outcomes/records?year={VOUCHER_YEAR}&prefecture=530100", headers=admin
    )
    assert records.status_code == 200, records.get_json()
    (record,) = [r for r in records.get_json() if r["order_id"] == order.id]
    assert record["outcome"]["patent_count"] == 1 and record["voucher_part_fen"] > 0
    other = create_order(OrderStatus.CONFIRMED, price_fen=300_000)
    listed = client.get(f"/api/v1/outcomes/records?year={VOUCHER_YEAR}", headers=admin).get_json()
    assert {r["order_id"]: r["outcome"] is None for r in listed} == {
        order.id: False,
        other.id: True,
    }
    bad = client.get(
        f"/api/v1/outcomes/records?year={VOUCHER_YEAR}&prefecture=530102", headers=admin
    )
    assert bad.status_code == 422
    assert (
        client.get(f"/api/v1/outcomes/records?year={VOUCHER_YEAR}", headers=sme).status_code == 403
    )
    provider = api_token(order_world.provider_user(order))
    assert client.get(f"/api/v1/orders/{order.id}/outcome", headers=provider).status_code == 404
    assert client.get("/api/v1/outcomes/summary", headers=sme).status_code == 403


def test_an_sme_page_is_read_only_a_year_after_confirmation(
    client, auth, session, order_world, create_order
):
    order = create_order(OrderStatus.CONFIRMED)
    auth.login(order_world.sme(order))
    assert 'name="patents"' in client.get(f"/orders/{order.id}/outcome").get_data(as_text=True)
    order.confirmed_at -= timedelta(days=services.EDITABLE_DAYS + 40)
    session.flush()
    page = client.get(f"/orders/{order.id}/outcome?lang=zh").get_data(as_text=True)
    assert 'name="patents"' not in page and 'data-testid="outcome-locked"' in page
    posted = client.post(f"/orders/{order.id}/outcome", data={"certifications": "1"})
    assert posted.status_code == 403
    assert session.query(OrderOutcome).filter_by(order_id=order.id).count() == 0


def test_administrators_read_outcome_summaries_charts_and_records(
    client, auth, session, order_world, create_order, create_user
):
    reported = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    silent = create_order(OrderStatus.CONFIRMED, price_fen=300_000)
    services.record_outcome(
        session,
        reported,
        order_world.sme(reported),
        services.OutcomeInput(
            patents=(("CN202710001234.5", PatentType.INVENTION),), certifications=2
        ),
    )
    voucher_fen = reported.voucher_part_fen + silent.voucher_part_fen
    programme_id = reported.voucher.programme_id
    patents_x100 = services.per_10k_x100(1, voucher_fen)
    auth.login(create_user(Role.AUDITOR))

    page = client.get(f"/admin/outcomes?year={VOUCHER_YEAR}&lang=zh")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    cell = f'data-testid="per10k-programme-{programme_id}-patents">{patents_x100 / 100:.2f}<'
    assert cell in html
    records_url = f"/admin/outcomes/records?year={VOUCHER_YEAR}&amp;programme_id={programme_id}"
    assert records_url in html
    assert f"/admin/outcomes/records?year={VOUCHER_YEAR}&amp;prefecture=530100" in html

    listed = client.get(records_url.replace("&amp;", "&") + "&lang=zh").get_data(as_text=True)
    assert f'href="/orders/{reported.id}/outcome" data-testid="outcome-{reported.id}"' in listed
    assert f'data-testid="outcome-{silent.id}">尚未填报' in listed
    for bad in ("category=nothing", "prefecture=530102", "programme_id=0"):
        assert client.get(f"/admin/outcomes/records?{bad}").status_code == 404

    dashboard = client.get(f"/admin/dashboard?year={VOUCHER_YEAR}&lang=zh").get_data(as_text=True)
    for chart in ("outcomes", "outcomes_by_category", "outcomes_by_prefecture"):
        assert f'data-chart="{chart}"' in dashboard
    csv_text = client.get(
        f"/admin/dashboard/outcomes_by_category.csv?year={VOUCHER_YEAR}"
    ).get_data(as_text=True)
    header, row = csv_text.splitlines()[:2]
    assert "certifications_per_10k_x100" in header
    assert str(services.per_10k_x100(2, voucher_fen)) in row.split(",")
    auth.logout()
    auth.login(order_world.sme(reported))
    assert client.get("/admin/outcomes").status_code == 403
