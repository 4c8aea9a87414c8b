"""Funders over the API and on the administration pages: system administrators register
funders, set a programme's shares and each funder's budget; every administrator role reads;
nobody else does; every change is audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.enums import Role
from vouchers import funders, holds
from vouchers.enums import FunderLevel
from vouchers.funder_models import Funder, ProgrammeShare

API = "/api/v1"


@pytest.fixture
def headers_for(create_user, api_token):
    def factory(role: Role):
        user = create_user(role)
        return user, api_token(user)

    return factory


@pytest.fixture
def login_as(create_user, auth):
    def factory(role: Role):
        user = create_user(role)
        auth.login(user)
        return user

    return factory


def _audit(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_the_api_sets_up_a_co_funded_programme(client, session, funded_programme, headers_for):
    programme = funded_programme()
    _admin, headers = headers_for(Role.SYSADMIN)
    created = {}
    for name, code in (("云南省财政厅", "53"), ("昆明市财政局", "5301")):
        response = client.post(
            f"{API}/funders",
            json={
                "name": name,
                "region_code": code,
                "bank_account": {
                    "account_name": f"{name}国库",
                    "bank_name": "中国人民银行昆明中心支行",
                    "account_number": "53001234567890",
                },
            },
            headers=headers,
        )
        assert response.status_code == 201, response.json
        created[code] = response.json
    assert created["53"]["region_code"] == "530000" and created["53"]["level"] == "province"
    assert created["5301"]["region_name"] == "云南省昆明市"
    assert "*" in created["53"]["bank_account_number"]  # masked
    again = client.post(
        f"{API}/funders", json={"name": "重复", "region_code": "530000"}, headers=headers
    )
    assert again.status_code == 409 and again.json["code"] == "duplicate_funder"

    bad = client.put(
        f"{API}/programmes/{programme.id}/shares",
        json={
            "version": programme.version,
            "shares": [{"share_bps": 9_999, "home_level": "county"}],
        },
        headers=headers,
    )
    assert bad.status_code == 409 and bad.json["code"] == "shares_invalid"
    response = client.put(
        f"{API}/programmes/{programme.id}/shares",
        json={
            "version": programme.version,
            "shares": [
                {"share_bps": 5_000, "funder_id": created["53"]["id"]},
                {"share_bps": 5_000, "home_level": "prefecture"},
            ],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["co_funded"] is True
    assert body["remainder_rule"] == "largest_remainder_ties_to_first_share"
    assert [s["home_level"] for s in body["shares"]] == [None, "prefecture"]
    stale = client.put(
        f"{API}/programmes/{programme.id}/shares",
        json={"version": programme.version, "shares": [{"share_bps": 10_000, "funder_id": 1}]},
        headers=headers,
    )
    assert stale.status_code == 412

    for code, budget in (("53", 1_000_000), ("5301", 400_000)):
        response = client.put(
            f"{API}/programmes/{programme.id}/funders/{created[code]['id']}/budget",
            json={"budget_fen": budget},
            headers=headers,
        )
        assert response.status_code == 200, response.json
    read = client.get(f"{API}/programmes/{programme.id}/funders", headers=headers).json
    assert {f["region_code"]: (f["budget_fen"], f["available_fen"]) for f in read["funders"]} == {
        "530000": (1_000_000, 1_000_000),
        "530100": (400_000, 400_000),
    }
    float_budget = client.put(
        f"{API}/programmes/{programme.id}/funders/{created['53']['id']}/budget",
        json={"budget_fen": 1.5},
        headers=headers,
    )
    assert float_budget.status_code == 422 and float_budget.json["code"] == "amount_invalid"
    assert len(_audit(session, "programme.shares_set")) == 1
    assert len(_audit(session, "programme.funder_budget_set")) == 2
    assert len(_audit(session, "funder.created")) == 2


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.FINANCE, Role.AUDITOR])
def test_only_system_administrators_manage_funders(client, session, role, headers_for):
    _user, headers = headers_for(role)
    assert client.get(f"{API}/funders", headers=headers).status_code == 200
    response = client.post(
        f"{API}/funders", json={"name": "省财政厅", "region_code": "530000"}, headers=headers
    )
    assert response.status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(Funder)) == 0


def test_enterprises_and_providers_see_no_funders(client, headers_for):
    for role in (Role.ENTERPRISE, Role.PROVIDER):
        _user, headers = headers_for(role)
        assert client.get(f"{API}/funders", headers=headers).status_code == 403


def test_the_pages_register_a_funder_and_set_shares_and_budgets(
    client, session, funded_programme, login_as
):
    programme = funded_programme()
    login_as(Role.SYSADMIN)
    page = client.get("/admin/funders")
    assert page.status_code == 200
    response = client.post(
        "/admin/funders",
        data={
            "name": "云南省财政厅",
            "region_code": "530000",
            "bank_account_name": "云南省财政厅国库",
            "bank_name": "中国人民银行昆明中心支行",
            "bank_account_number": "53001234567890",
        },
    )
    assert response.status_code == 302
    province = session.scalars(sa.select(Funder)).one()
    # No CSRF token: refused, nothing written.
    assert (
        client.post("/admin/funders", data={"name": "x", "region_code": "5301"}).status_code == 400
    )
    kunming = funders.create_funder(
        session, funders.FunderInput("昆明市财政局", "530100"), actor_id=None
    )

    page = client.get(f"/admin/programmes/{programme.id}/funders")
    assert page.status_code == 200
    response = client.post(
        f"/admin/programmes/{programme.id}/shares",
        data={
            "version": str(programme.version),
            "rows-0-payer": str(province.id),
            "rows-0-percent": "50",
            "rows-1-payer": "home:prefecture",
            "rows-1-percent": "50.00",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    shares = session.scalars(
        sa.select(ProgrammeShare).where(ProgrammeShare.programme_id == programme.id)
    ).all()
    assert [(s.share_bps, s.funder_id, s.home_level) for s in shares] == [
        (5_000, province.id, None),
        (5_000, None, FunderLevel.PREFECTURE),
    ]
    response = client.post(
        f"/admin/programmes/{programme.id}/funder-budget",
        data={"funder": str(kunming.id), "budget": "3,000.50"},
    )
    assert response.status_code == 302
    standing = {s.funder.id: s.budget_fen for s in funders.standings(session, programme.id)}
    assert standing[kunming.id] == 300_050
    # Shares that do not add up are refused with the reason on the page.
    session.refresh(programme)
    response = client.post(
        f"/admin/programmes/{programme.id}/shares",
        data={
            "version": str(programme.version),
            "rows-0-payer": str(province.id),
            "rows-0-percent": "60",
        },
    )
    assert response.status_code == 409
    assert "份额合计须为100%" in response.get_data(as_text=True)


def test_readers_see_the_pages_without_the_forms(client, session, funded_programme, login_as):
    programme = funded_programme()
    login_as(Role.AUDITOR)
    assert client.get("/admin/funders").status_code == 200
    page = client.get(f"/admin/programmes/{programme.id}/funders")
    assert page.status_code == 200
    assert "rows-0-payer" not in page.get_data(as_text=True)
    assert client.post("/admin/funders", data={}).status_code == 403


def test_the_programme_page_shows_the_split_of_holds(
    client, session, funded_programme, issue_voucher, create_enterprise, login_as
):
    programme = funded_programme()
    province = funders.create_funder(
        session, funders.FunderInput("云南省财政厅", "530000"), actor_id=None
    )
    qujing = funders.create_funder(
        session, funders.FunderInput("曲靖市财政局", "530300"), actor_id=None
    )
    funders.set_shares(
        session,
        programme.id,
        [
            funders.ShareInput(5_000, funder_id=province.id),
            funders.ShareInput(5_000, home_level=FunderLevel.PREFECTURE),
        ],
        expected_version=programme.version,
        actor_id=None,
    )
    funders.set_budget(session, programme.id, province.id, 1_000_000, actor_id=None)
    funders.set_budget(session, programme.id, qujing.id, 1_000_000, actor_id=None)
    voucher = issue_voucher(create_enterprise(division="530302"), programme)
    holds.place_hold(session, voucher, "order:1", 12_345, 30_000, "k-1", None)
    login_as(Role.FINANCE)
    html = client.get(f"/admin/programmes/{programme.id}/funders").get_data(as_text=True)
    # 12,345 fen: the province 61.73, Qujing 61.72 (the odd fen to the first share).
    assert "¥61.73" in html and "¥61.72" in html


def test_the_edit_page_changes_name_and_account_but_not_the_division(client, session, login_as):
    funder = funders.create_funder(
        session, funders.FunderInput("曲靖市财政局", "530300"), actor_id=None
    )
    login_as(Role.SYSADMIN)
    page = client.get(f"/admin/funders/{funder.id}/edit")
    assert page.status_code == 200 and "云南省曲靖市" in page.get_data(as_text=True)
    response = client.post(
        f"/admin/funders/{funder.id}/edit",
        data={
            "name": "曲靖市财政局（国库科）",
            "region_code": "530300",
            "bank_account_name": "曲靖市财政局国库存款户",
            "bank_name": "中国人民银行曲靖市中心支行",
            "bank_account_number": "5303 0000 0001",
            "version": "1",
        },
    )
    assert response.status_code == 302
    session.refresh(funder)
    assert (funder.name, funder.bank_account_number, funder.version) == (
        "曲靖市财政局（国库科）",
        "530300000001",
        2,
    )
    stale = client.post(
        f"/admin/funders/{funder.id}/edit",
        data={"name": "旧版本", "region_code": "530300", "version": "1"},
    )
    assert stale.status_code == 412
    assert len(_audit(session, "funder.updated")) == 1
