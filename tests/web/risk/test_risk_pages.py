"""Risk pages and the risk API: reviewers and auditors see flags and evidence, auditors draw
samples and record findings, exports come as CSV and XLSX, other roles are refused."""

from __future__ import annotations

import base64
import io

import openpyxl
import sqlalchemy as sa

from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.risk import services as risk_services
from marketplace.risk.enums import Rule
from marketplace.risk.models import AuditSample, Finding
from providers.enums import CreditEventKind
from providers.models import CreditEvent, Provider
from tests.support.provider_fixtures import PDF
from vouchers.enums import VoucherStatus
from vouchers.models import Enterprise, RecoveryFlag, Voucher


def test_auditor_works_a_sample_through_the_pages(client, auth, session, create_user, create_order):
    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    auth.login(create_user(Role.AUDITOR))
    assert client.post("/risk/assess", data={}).status_code in {302, 400}
    page = client.get("/risk/?lang=zh")
    assert page.status_code == 200 and "整数价格" in page.get_data(as_text=True)
    detail = client.get(f"/risk/orders/{order.id}").get_data(as_text=True)
    assert f"#{order.id}" in detail
    drawn = client.post("/risk/samples", data={"size": "1", "seed": "7", "min_score": "0"})
    assert drawn.status_code == 302
    sample = session.scalars(sa.select(AuditSample)).one()
    assert sample.seed == 7 and sample.items[0].order_id == order.id
    item = sample.items[0]
    shown = client.get(f"/risk/samples/{sample.id}")
    assert shown.status_code == 200 and 'name="outcome"' in shown.get_data(as_text=True)
    refused = client.post(
        f"/risk/samples/{sample.id}/items/{item.id}/finding",
        data={"outcome": "cleared", "follow_up": "blacklist", "notes": "正常"},
    )
    assert refused.status_code == 422
    recorded = client.post(
        f"/risk/samples/{sample.id}/items/{item.id}/finding",
        data={
            "outcome": "irregular",
            "follow_up": "none",
            "notes": '=HYPERLINK("x") 报告与实际不符',
            "documents": (io.BytesIO(PDF), "核查.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert recorded.status_code == 302
    assert "审计结论" in client.get(f"/risk/samples/{sample.id}?lang=zh").get_data(as_text=True)
    for path in ("/risk/samples", "/risk/findings", "/risk/settings", f"/risk/orders/{order.id}"):
        assert client.get(path).status_code == 200, path
    finding = session.scalars(sa.select(Finding)).one()
    assert finding.documents[0].original_filename == "核查.pdf"
    doc = client.get(f"/risk/findings/{finding.id}/documents/{finding.documents[0].id}")
    assert doc.status_code == 200 and doc.data == PDF
    xlsx = client.get("/risk/findings.xlsx?outcome=irregular")
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "finding_id" and rows[1][2] == order.id
    assert rows[1][8].startswith("'=")  # neutralised against formula injection
    csv_text = client.get("/risk/flags.csv").get_data(as_text=True)
    assert "round_price" in csv_text


def test_reviewers_read_but_do_not_sample_and_smes_see_nothing(
    client, auth, create_user, create_order
):
    order = create_order(OrderStatus.AGREED, price_fen=123_456)
    auth.login(create_user(Role.REVIEWER))
    assert client.get("/risk/").status_code == 200
    assert client.get(f"/risk/parties/enterprise/{order.enterprise_id}").status_code == 200
    assert client.post("/risk/samples", data={"size": "1"}).status_code == 403
    assert client.post("/risk/settings", data={"rule": "round_price"}).status_code == 403
    auth.logout()
    auth.login(create_user(Role.ENTERPRISE))
    for path in ("/risk/", "/risk/samples", "/risk/findings.xlsx", f"/risk/orders/{order.id}"):
        assert client.get(path).status_code == 403


def test_risk_api(client, session, create_user, api_token, create_order):
    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    auditor = api_token(create_user(Role.AUDITOR))
    assert client.post("/api/v1/risk/assessments", headers=auditor).status_code == 201
    flags = client.get(
        "/api/v1/risk/flags?rule=round_price&min_score=1", headers=auditor
    ).get_json()
    assert [f["order_id"] for f in flags["items"]] == [order.id]
    risk = client.get(f"/api/v1/risk/orders/{order.id}", headers=auditor).get_json()
    assert risk["score"] >= 5 and risk["flags"]
    put = client.put(
        "/api/v1/risk/settings/round_price",
        json={"threshold": 50_000, "weight": 7},
        headers=auditor,
    )
    assert put.status_code == 200 and put.get_json()["weight"] == 7
    bad = client.put(
        "/api/v1/risk/settings/round_price", json={"threshold": -1, "weight": 7}, headers=auditor
    )
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    sample = client.post("/api/v1/risk/samples", json={"size": 1, "seed": 5}, headers=auditor)
    assert sample.status_code == 201
    body = sample.get_json()
    item = body["items"][0]
    finding = client.post(
        f"/api/v1/risk/samples/{body['id']}/items/{item['id']}/finding",
        json={
            "outcome": "cleared",
            "notes": "资料齐全",
            "documents": [{"filename": "a.pdf", "content_base64": base64.b64encode(PDF).decode()}],
        },
        headers=auditor,
    )
    assert finding.status_code == 201 and finding.get_json()["documents"]
    again = client.post(
        f"/api/v1/risk/samples/{body['id']}/items/{item['id']}/finding",
        json={"outcome": "cleared", "notes": "x"},
        headers=auditor,
    )
    assert again.status_code == 409 and again.get_json()["code"] == "finding_already_recorded"
    listed = client.get("/api/v1/risk/findings?outcome=cleared", headers=auditor).get_json()
    assert len(listed["items"]) == 1
    parties = client.get(f"/api/v1/risk/parties/enterprise/{order.enterprise_id}", headers=auditor)
    assert parties.status_code == 200
    reviewer = api_token(create_user(Role.REVIEWER))
    assert (
        client.post("/api/v1/risk/samples", json={"size": 1}, headers=reviewer).status_code == 403
    )
    sme = api_token(create_user(Role.ENTERPRISE))
    assert client.get("/api/v1/risk/flags", headers=sme).status_code == 403


def test_order_and_claim_pages_show_reviewers_the_risk_with_its_flags(
    client, auth, session, settlement_world, order_world
):
    service = settlement_world.order().service
    risky = settlement_world.order(service=service, price_fen=200_000)
    plain = settlement_world.order(service=service, price_fen=123_456)
    claim = settlement_world.claim(risky, plain)
    risk_services.assess(session)
    scores = risk_services.risks_of(session, [risky.id, plain.id])
    assert scores[risky.id].score > scores[plain.id].score
    round_flag = next(f for f in scores[risky.id].flags if f.rule is Rule.ROUND_PRICE)

    auth.login(order_world.staff(Role.REVIEWER))
    order_page = client.get(f"/orders/{risky.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="risk-panel"' in order_page
    assert f'data-testid="risk-score-{risky.id}">{scores[risky.id].score}<' in order_page
    assert round_flag.explanation_en in order_page
    assert f'href="/risk/orders/{risky.id}"' in order_page
    zh = client.get(f"/orders/{risky.id}?lang=zh").get_data(as_text=True)
    assert round_flag.explanation_zh in zh and "整数价格" in zh

    claim_page = client.get(f"/admin/settlement/claims/{claim.id}?lang=en").get_data(as_text=True)
    assert f'data-testid="claim-risk-score">{scores[risky.id].score}<' in claim_page
    for order in (risky, plain):
        assert f'data-testid="risk-score-{order.id}">{scores[order.id].score}<' in claim_page
    assert round_flag.explanation_en in claim_page
    queue = client.get(f"/admin/settlement/claims?status={claim.status.value}")
    score_cell = f'data-testid="claim-score-{claim.id}">{scores[risky.id].score}<'
    assert score_cell in queue.get_data(as_text=True)
    auth.logout()

    # The SME and the provider see their order, never its risk.
    for user in (order_world.sme(risky), order_world.provider_user(risky)):
        auth.login(user)
        page = client.get(f"/orders/{risky.id}")
        assert page.status_code == 200 and 'data-testid="risk-panel"' not in page.get_data(
            as_text=True
        )
        auth.logout()


def test_an_irregular_finding_from_the_page_lists_the_enterprise_and_lowers_credit(
    client, auth, session, create_user, create_order
):
    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    before = order.provider.credit_score
    auth.login(create_user(Role.AUDITOR))
    assert client.post("/risk/samples", data={"size": "1", "seed": "3"}).status_code == 302
    sample = session.scalars(sa.select(AuditSample)).one()
    recorded = client.post(
        f"/risk/samples/{sample.id}/items/{sample.items[0].id}/finding",
        data={"outcome": "irregular", "follow_up": "blacklist", "notes": "服务未实际提供。"},
    )
    assert recorded.status_code == 302
    session.expire_all()
    enterprise = session.get(Enterprise, order.enterprise_id)
    assert enterprise.blacklisted
    assert session.get(Provider, order.provider_id).credit_score == max(0, before - 15)
    events = session.scalars(
        sa.select(CreditEvent).where(CreditEvent.provider_id == order.provider_id)
    ).all()
    assert [e.kind for e in events] == [CreditEventKind.IRREGULAR_FINDING]
    # The listing froze the enterprise's vouchers (issue 11, point 5).
    assert session.get(Voucher, order.voucher_id).status is VoucherStatus.FROZEN
    shown = client.get(f"/risk/samples/{sample.id}?lang=zh").get_data(as_text=True)
    assert "列入失信名单" in shown


def test_an_irregular_finding_through_the_api_starts_a_recovery(
    client, session, create_user, api_token, create_order
):
    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    before = order.provider.credit_score
    auditor = api_token(create_user(Role.AUDITOR))
    body = client.post(
        "/api/v1/risk/samples", json={"size": 1, "seed": 9}, headers=auditor
    ).get_json()
    finding = client.post(
        f"/api/v1/risk/samples/{body['id']}/items/{body['items'][0]['id']}/finding",
        json={"outcome": "irregular", "follow_up": "recovery", "notes": "价格虚高。"},
        headers=auditor,
    )
    assert finding.status_code == 201, finding.get_json()
    assert finding.get_json()["recovery_fen"] == order.voucher_part_fen > 0
    session.expire_all()
    flag = session.scalar(
        sa.select(RecoveryFlag).where(RecoveryFlag.voucher_id == order.voucher_id)
    )
    assert flag is not None and flag.amount_fen == order.voucher_part_fen
    assert session.get(Provider, order.provider_id).credit_score == max(0, before - 15)
    assert not session.get(Enterprise, order.enterprise_id).blacklisted
    # A cleared finding starts nothing: the API refuses a follow-up with it.
    other = create_order(OrderStatus.CONFIRMED, price_fen=123_456)
    body = client.post(
        "/api/v1/risk/samples", json={"size": 2, "seed": 9}, headers=auditor
    ).get_json()
    item = next(i for i in body["items"] if i["order_id"] == other.id)
    refused = client.post(
        f"/api/v1/risk/samples/{body['id']}/items/{item['id']}/finding",
        json={"outcome": "cleared", "follow_up": "blacklist", "notes": "正常"},
        headers=auditor,
    )
    assert refused.status_code == 422 and "follow_up" in refused.get_json()["errors"]
