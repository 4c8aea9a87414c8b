"""The audit trail: visible to administrators and auditors, filterable, exportable."""

import csv
import io

from marketplace.audit.services import record
from marketplace.enums import Role


def _events(session):
    record(
        session,
        "voucher.issued",
        actor_id=None,
        subject_type="voucher",
        subject_id=7,
        amount_fen=100,
    )
    record(
        session,
        "voucher.revoked",
        actor_id=None,
        subject_type="voucher",
        subject_id=7,
        reason="欺诈",
    )
    record(session, "provider.admitted", actor_id=None, subject_type="provider", subject_id=3)
    session.flush()


def test_auditor_reads_and_filters_the_trail(client, auth, session, create_user):
    _events(session)
    auth.login(create_user(Role.AUDITOR))
    page = client.get("/admin/audit?action=voucher.").get_data(as_text=True)
    assert (
        "voucher.issued" in page and "voucher.revoked" in page and "provider.admitted" not in page
    )
    page = client.get("/admin/audit?subject_type=provider").get_data(as_text=True)
    assert "provider.admitted" in page and "voucher.issued" not in page


def test_invalid_filter_is_explained(client, auth, create_user):
    auth.login(create_user(Role.REVIEWER))
    response = client.get("/admin/audit?subject_id=abc")
    assert response.status_code == 400 and "subject_id" in response.get_data(as_text=True)


def test_csv_export_is_utf8_with_bom(client, auth, session, create_user):
    _events(session)
    auth.login(create_user(Role.AUDITOR))
    response = client.get("/admin/audit.csv?action=voucher.revoked")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["编号", "时间（北京时间）", "操作人"]
    assert len(rows) == 2 and rows[1][6] == "voucher.revoked" and "欺诈" in rows[1][9]
    assert rows[1][5] == "电子券撤销" and rows[1][2] == "系统"


def test_enterprises_cannot_read_the_trail(client, auth, create_user):
    auth.login(create_user(Role.ENTERPRISE))
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    assert client.get("/admin/audit.xlsx").status_code == 403


def test_audit_api(client, session, create_user, api_token):
    _events(session)
    auditor = api_token(create_user(Role.AUDITOR))
    body = client.get("/api/v1/audit/events?action=voucher.&limit=1", headers=auditor).get_json()
    assert [e["action"] for e in body["items"]] == ["voucher.revoked"]
    assert body["next_cursor"]
    more = client.get(
        f"/api/v1/audit/events?action=voucher.&cursor={body['next_cursor']}", headers=auditor
    )
    assert [e["action"] for e in more.get_json()["items"]] == ["voucher.issued"]
    sme = api_token(create_user(Role.ENTERPRISE))
    assert client.get("/api/v1/audit/events", headers=sme).status_code == 403


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" in client.get("/api/v1/docs").headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- readable trail


def _story(session, create_user, create_enterprise, create_provider):
    """A reviewer lists an enterprise; another enterprise and a provider get unrelated events."""
    reviewer = create_user(Role.REVIEWER, display_name="李审核")
    listed = create_enterprise(name="滇池创新科技有限公司")
    other = create_enterprise(name='=HYPERLINK("http://x")科技')
    provider = create_provider(name="昆明检测中心")
    record(
        session,
        "enterprise.blacklisted",
        actor_id=reviewer.id,
        subject_type="enterprise",
        subject_id=listed.id,
        reason="失信被执行人",
        before={"blacklisted": False},
        after={"blacklisted": True},
    )
    record(
        session,
        "provider.suspend",
        actor_id=reviewer.id,
        subject_type="provider",
        subject_id=provider.id,
        from_status="admitted",
        to_status="suspended",
    )
    record(
        session,
        "enterprise.registered",
        actor_id=None,
        subject_type="enterprise",
        subject_id=other.id,
    )
    session.flush()
    return reviewer, listed, other, provider


def test_the_trail_reads_as_names_labels_beijing_time_and_a_diff(
    client, auth, session, create_user, create_enterprise, create_provider
):
    _reviewer, listed, _other, provider = _story(
        session, create_user, create_enterprise, create_provider
    )
    auth.login(create_user(Role.AUDITOR))
    page = client.get(f"/admin/audit?enterprise_id={listed.id}").get_data(as_text=True)
    assert "滇池创新科技有限公司" in page and "李审核" in page and "审核员" in page
    assert "企业列入失信名单" in page and "<del>✗</del> → <ins>✓</ins>" in page
    assert "昆明检测中心" not in page and "HYPERLINK" not in page
    provider_page = client.get(f"/admin/audit?provider_id={provider.id}&lang=en").get_data(
        as_text=True
    )
    assert "Provider suspended" in provider_page and "Admitted" in provider_page
    assert "Suspended" in provider_page and "滇池" not in provider_page
    assert client.get("/admin/audit?date_from=2020-13-01").status_code == 400


def test_the_api_gives_the_same_readable_trail(
    client, session, create_user, create_enterprise, create_provider, api_token
):
    reviewer, listed, _other, _provider = _story(
        session, create_user, create_enterprise, create_provider
    )
    auditor = api_token(create_user(Role.AUDITOR))
    body = client.get(
        f"/api/v1/audit/events?enterprise_id={listed.id}&actor_id={reviewer.id}&lang=en",
        headers=auditor,
    ).get_json()
    (item,) = body["items"]
    assert item["actor_name"] == "李审核" and item["actor_role"] == "Reviewer"
    assert item["action_label"] == "Enterprise put on the dishonesty list"
    assert "滇池创新科技有限公司" in item["subject_label"]
    assert item["changes"] == [{"field": "blacklisted", "before": "✗", "after": "✓"}]
    assert item["details"] == {"reason": "失信被执行人"}
    assert len(item["time_beijing"]) == 19
    bad = client.get("/api/v1/audit/events?date_to=yesterday", headers=auditor)
    assert bad.status_code == 422 and bad.content_type.startswith("application/problem+json")


def test_the_export_is_the_screen_in_csv_and_xlsx(
    client, auth, session, create_user, create_enterprise, create_provider
):
    _story(session, create_user, create_enterprise, create_provider)
    auth.login(create_user(Role.AUDITOR))
    text = client.get("/admin/audit.csv?action=enterprise.registered").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    # The subject names the enterprise; the writer (marketplace/exports.py) neutralises any
    # cell that would start a formula.
    assert len(rows) == 2 and rows[1][7].startswith("企业 #") and "HYPERLINK" in rows[1][7]
    xlsx = client.get("/admin/audit.xlsx?action=enterprise.registered&lang=en")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
