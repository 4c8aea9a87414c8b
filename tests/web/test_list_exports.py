"""Exports of the lists (issue 11, point 8): vouchers, orders, claims and payouts in CSV and an
XLSX twin at the same URL, under the screen's filters, through the one writer (formulas
neutralised), each only for who may see the list."""

from __future__ import annotations

import csv
import io

import openpyxl

from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus


def _csv(response):
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _xlsx(response):
    assert response.status_code == 200 and response.data[:2] == b"PK"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_voucher_list_exports_with_the_screens_filters(
    client, auth, session, create_user, create_enterprise, issue_voucher, funded_programme
):
    programme = funded_programme()
    hostile = create_enterprise(name='=HYPERLINK("http://evil","点我")')
    voucher = issue_voucher(enterprise=hostile, programme=programme)
    other = issue_voucher(programme=programme)
    auth.login(create_user(Role.AUDITOR))
    rows = _csv(client.get(f"/admin/vouchers.csv?serial={voucher.serial}"))
    assert rows[0][:2] == ["券号", "企业"]
    assert [r[0] for r in rows[1:]] == [voucher.serial]
    assert rows[1][1].startswith("'=HYPERLINK")  # shown as text, never run as a formula
    assert rows[1][4] == "可使用"
    sheet = _xlsx(client.get(f"/admin/vouchers.xlsx?serial={other.serial}&lang=en"))
    assert sheet[0][:2] == ["serial", "enterprise"] and sheet[1][0] == other.serial
    assert sheet[1][4] == "Active"
    assert client.get("/admin/vouchers.csv?status=nonsense").status_code == 404


def test_orders_export_shows_only_what_the_user_may_see(client, auth, create_order, order_world):
    mine = create_order(OrderStatus.AGREED)
    theirs = create_order(OrderStatus.AGREED)
    auth.login(order_world.sme(mine))
    rows = _csv(client.get("/orders/export.csv"))
    assert [r[0] for r in rows[1:]] == [str(mine.id)]
    assert theirs.id not in [int(r[0]) for r in rows[1:]]
    assert _csv(client.get("/orders/export.csv?status=paid"))[1:] == []
    sheet = _xlsx(client.get("/orders/export.xlsx"))
    assert sheet[1][0] == mine.id


def test_claims_and_payouts_export(client, auth, session, settlement_world, create_user):
    order = settlement_world.order()
    claim = settlement_world.approved_claim(order)
    settlement_world.batch()
    auth.login(create_user(Role.FINANCE))
    rows = _csv(client.get("/admin/settlement/claims.csv?status="))
    assert claim.reference in [r[0] for r in rows[1:]]
    payouts = _csv(client.get("/admin/settlement/payouts.csv"))
    assert len(payouts) == 2 and payouts[1][4] == "1"
    assert _xlsx(client.get("/admin/settlement/payouts.xlsx"))[1][4] == 1


def test_enterprises_cannot_export_admin_lists(client, auth, create_user):
    auth.login(create_user(Role.ENTERPRISE))
    for url in (
        "/admin/vouchers.csv",
        "/admin/settlement/claims.xlsx",
        "/admin/settlement/payouts.csv",
    ):
        assert client.get(url).status_code == 403
