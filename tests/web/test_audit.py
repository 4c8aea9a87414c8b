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
    assert rows[0][:4] == ["id", "occurred_at_utc", "actor_id", "action"]
    assert len(rows) == 2 and rows[1][3] == "voucher.revoked" and "欺诈" in rows[1][6]


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
