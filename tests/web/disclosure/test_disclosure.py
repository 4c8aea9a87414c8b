"""Public disclosure (rule 7) and statistics (rule 12)."""

import csv
import io

import openpyxl

from marketplace.enums import Role
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR, next_key
from vouchers import holds
from vouchers.expiry import revoke_voucher


def _redeem(session, voucher, provider, amount_fen=100_000):
    hold = holds.place_hold(
        session,
        voucher,
        next_key("order"),
        amount_fen,
        amount_fen * 2,
        next_key("hold"),
        VOUCHER_NOW,
    )
    holds.capture_hold(session, hold, next_key("capture"), VOUCHER_NOW, provider_id=provider.id)
    return hold


def test_public_page_lists_grants_and_redemptions_without_contacts(
    client, session, issue_voucher, create_enterprise, create_provider
):
    enterprise = create_enterprise(name="昆明公示测试科技有限公司", contact_phone="13912345678")
    voucher = issue_voucher(enterprise, amount_fen=2_000_000)
    provider = create_provider(name="云南公示检测中心")
    _redeem(session, voucher, provider)
    page = client.get(f"/disclosure/?year={VOUCHER_YEAR}").get_data(as_text=True)
    assert "昆明公示测试科技有限公司" in page and enterprise.credit_code in page
    assert "¥20,000.00" in page and "云南省昆明市" in page
    assert "云南公示检测中心" in page and "¥1,000.00" in page
    assert "13912345678" not in page and enterprise.contact_email not in page


def test_revoked_vouchers_are_marked(client, session, issue_voucher):
    voucher = issue_voucher(amount_fen=500_000)
    revoke_voucher(
        session,
        voucher.id,
        reason="虚假材料 false documents",
        actor_id=None,
        idempotency_key=next_key("revoke"),
        now=VOUCHER_NOW,
    )
    page = client.get(f"/disclosure/?year={VOUCHER_YEAR}").get_data(as_text=True)
    assert "badge-revoked" in page


def test_csv_download(client, issue_voucher, create_enterprise):
    issue_voucher(
        create_enterprise(name="玉溪导出测试有限公司", division="530402"), amount_fen=1_234_500
    )
    response = client.get(f"/disclosure/{VOUCHER_YEAR}.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert (
        rows[1][1] == "玉溪导出测试有限公司"
        and rows[1][3] == "云南省玉溪市红塔区"
        and rows[1][5] == "12345.00"
    )


def test_a_formula_in_a_name_is_published_as_text_in_csv_and_xlsx(
    client, issue_voucher, create_enterprise
):
    issue_voucher(create_enterprise(name='=HYPERLINK("http://x.example","点我")有限公司'))
    csv_rows = list(
        csv.reader(
            io.StringIO(client.get(f"/disclosure/{VOUCHER_YEAR}.csv").get_data(as_text=True))
        )
    )
    assert csv_rows[1][1] == """'=HYPERLINK("http://x.example","点我")有限公司"""
    response = client.get(f"/disclosure/{VOUCHER_YEAR}.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][1] == "企业名称 Enterprise"
    assert rows[1][1].startswith("'=HYPERLINK") and rows[1][0] == 1
    assert sheet.cell(row=2, column=2).data_type == "s"  # a string, not a formula


def test_out_of_range_years_are_not_found(client):
    assert client.get("/disclosure/?year=1999").status_code == 404
    assert client.get("/disclosure/?year=9999").status_code == 404
    assert client.get("/disclosure/9999.csv").status_code == 404
    assert client.get("/disclosure/10000.csv").status_code == 404


def test_statistics_page_for_administrators_only(
    client, auth, session, create_user, issue_voucher, create_provider
):
    voucher = issue_voucher(amount_fen=3_000_000)
    _redeem(session, voucher, create_provider(), amount_fen=250_000)
    auth.login(create_user(Role.ENTERPRISE))
    assert client.get(f"/admin/statistics?year={VOUCHER_YEAR}").status_code == 403
    auth.logout()
    auth.login(create_user(Role.AUDITOR))
    page = client.get(f"/admin/statistics?year={VOUCHER_YEAR}").get_data(as_text=True)
    assert "¥30,000.00" in page and "¥2,500.00" in page


def test_disclosure_and_statistics_api(
    client, session, issue_voucher, funded_programme, create_provider, create_user, api_token
):
    programme = funded_programme()
    first = issue_voucher(programme=programme, amount_fen=1_000_000)
    issue_voucher(programme=programme, amount_fen=2_000_000)
    _redeem(session, first, create_provider(), amount_fen=400_000)
    page = client.get(f"/api/v1/disclosure/grants?year={VOUCHER_YEAR}&limit=1").get_json()
    assert len(page["items"]) == 1 and page["items"][0]["currency"] == "CNY" and page["next_cursor"]
    rest = client.get(
        f"/api/v1/disclosure/grants?year={VOUCHER_YEAR}&cursor={page['next_cursor']}"
    ).get_json()
    assert {g["face_value_fen"] for g in page["items"] + rest["items"]} == {1_000_000, 2_000_000}
    redeemed = client.get(f"/api/v1/disclosure/redemptions?year={VOUCHER_YEAR}").get_json()
    assert [r["redeemed_fen"] for r in redeemed] == [400_000]
    assert client.get(f"/api/v1/statistics?year={VOUCHER_YEAR}").status_code == 401
    stats = client.get(
        f"/api/v1/statistics?year={VOUCHER_YEAR}", headers=api_token(create_user(Role.FINANCE))
    ).get_json()
    assert stats["vouchers_issued"] == 2 and stats["issued_fen"] == 3_000_000
    assert stats["redeemed_fen"] == 400_000 and stats["enterprises_served"] == 2
    assert stats["issued_by_month"] == {"6": 3_000_000}
    sme = api_token(create_user(Role.ENTERPRISE))
    assert client.get(f"/api/v1/statistics?year={VOUCHER_YEAR}", headers=sme).status_code == 403
    for path in ("disclosure/grants", "disclosure/redemptions"):
        refused = client.get(f"/api/v1/{path}?year=9999")
        assert refused.status_code == 422 and "year" in refused.get_json()["errors"]


def test_each_grant_names_who_pays_its_voucher_part(
    client, session, funded_programme, issue_voucher, create_enterprise
):
    from vouchers import funders
    from vouchers.enums import FunderLevel
    from vouchers.funders import FunderInput, ShareInput

    programme = funded_programme()
    made = {
        code: funders.create_funder(
            session, FunderInput(name, code, None, None, None), actor_id=None
        )
        for name, code in (("云南省科学技术厅", "530000"), ("昆明市财政局", "530100"))
    }
    funders.set_shares(
        session,
        programme.id,
        [
            ShareInput(6_000, funder_id=made["530000"].id),
            ShareInput(4_000, home_level=FunderLevel.PREFECTURE),
        ],
        expected_version=programme.version,
        actor_id=None,
    )
    issue_voucher(create_enterprise(name="昆明出资测试有限公司", division="530102"), programme)
    # Yuxi has no funder of its own yet: its division is named, so the gap is public too.
    issue_voucher(create_enterprise(name="玉溪出资测试有限公司", division="530402"), programme)

    page = client.get(f"/disclosure/?year={VOUCHER_YEAR}").get_data(as_text=True)
    assert "云南省科学技术厅 60%；昆明市财政局 40%" in page
    assert "云南省科学技术厅 60%；云南省玉溪市 40%" in page

    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/disclosure/{VOUCHER_YEAR}.csv")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert rows[0][-1] == "出资方 Paid by"
    assert {row[1]: row[-1] for row in rows[1:]} == {
        "昆明出资测试有限公司": "云南省科学技术厅 60%；昆明市财政局 40%",
        "玉溪出资测试有限公司": "云南省科学技术厅 60%；云南省玉溪市 40%",
    }

    api = client.get(f"/api/v1/disclosure/grants?year={VOUCHER_YEAR}").get_json()
    kunming = next(g for g in api["items"] if g["enterprise_name"] == "昆明出资测试有限公司")
    assert kunming["payers"] == [
        {"funder_name": "云南省科学技术厅", "funding_body": None, "share_bps": 6_000},
        {"funder_name": "昆明市财政局", "funding_body": None, "share_bps": 4_000},
    ]


def test_a_programme_naming_no_funder_is_paid_by_its_funding_body(client, issue_voucher):
    issue_voucher(amount_fen=500_000)
    page = client.get(f"/disclosure/?year={VOUCHER_YEAR}").get_data(as_text=True)
    assert "省级财政 100%" in page
    api = client.get(f"/api/v1/disclosure/grants?year={VOUCHER_YEAR}").get_json()
    assert api["items"][0]["payers"] == [
        {"funder_name": None, "funding_body": "provincial", "share_bps": 10_000}
    ]
