"""Separation of duties: a system administrator creates programmes and manages accounts, and
may read the review queues — but never decides them. Otherwise one person could create a
programme, verify an enterprise and approve or issue vouchers to it alone. Reviewers decide
(on the pages and over the API alike)."""

from __future__ import annotations

import io
import uuid

import pytest

from marketplace.enums import Role
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers.enums import VerificationStatus
from vouchers.models import Application, Voucher


@pytest.fixture
def world(session, funded_programme, create_enterprise, submit_application, issue_voucher):
    programme = funded_programme(year=VOUCHER_YEAR)
    return {
        "programme": programme,
        "pending": create_enterprise(verification_status=VerificationStatus.PENDING),
        "application": submit_application(programme=programme, now=VOUCHER_NOW),
        "voucher": issue_voucher(programme=programme, now=VOUCHER_NOW),
    }


def _web_decisions(world):
    enterprise, application = world["pending"], world["application"]
    voucher, programme = world["voucher"], world["programme"]
    return [
        (f"/admin/enterprises/{enterprise.id}/verification", {"decision": "verified"}),
        (f"/admin/enterprises/{enterprise.id}/blacklist", {"reason": "失信"}),
        (f"/admin/enterprises/{enterprise.id}/blacklist/removal", {"reason": "已修复"}),
        (f"/admin/applications/{application.id}/approve", {"amount": "100"}),
        (f"/admin/applications/{application.id}/clarify", {"note": "请补充"}),
        (f"/admin/applications/{application.id}/reject", {"reason": "不符合条件"}),
        (f"/admin/vouchers/{voucher.id}/revoke", {"reason": "骗取"}),
        (
            f"/admin/programmes/{programme.id}/bulk-issuances",
            {"file": (io.BytesIO(b"credit_code,amount_yuan\n"), "bulk.csv")},
        ),
    ]


def _api_decisions(world):
    enterprise, application = world["pending"], world["application"]
    voucher, programme = world["voucher"], world["programme"]
    return [
        (f"/enterprises/{enterprise.id}/verification", {"decision": "verified", "note": "核实"}),
        (f"/enterprises/{enterprise.id}/blacklist", {"reason": "失信"}),
        (f"/enterprises/{enterprise.id}/blacklist/removal", {"reason": "已修复"}),
        (f"/applications/{application.id}/approve", {}),
        (f"/applications/{application.id}/clarification-request", {"note": "请补充"}),
        (f"/applications/{application.id}/reject", {"reason": "不符合条件"}),
        (f"/vouchers/{voucher.id}/revoke", {"reason": "骗取"}),
        (f"/programmes/{programme.id}/bulk-issuances", {"filename": "a.csv", "rows": []}),
    ]


def _unchanged(session, world):
    session.expire_all()
    assert world["pending"].verification_status is VerificationStatus.PENDING
    assert not world["pending"].blacklisted
    assert session.get(Application, world["application"].id).status.value == "submitted"
    assert session.get(Voucher, world["voucher"].id).status.value != "revoked"


def test_a_sysadmin_reads_the_review_queues_on_the_pages(client, auth, create_user, world):
    auth.login(create_user(Role.SYSADMIN))
    for path in (
        "/admin/enterprises?status=all",
        f"/admin/enterprises/{world['pending'].id}",
        "/admin/applications?status=all",
        f"/admin/applications/{world['application'].id}",
        f"/admin/vouchers/{world['voucher'].id}",
        f"/admin/programmes/{world['programme'].id}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        for action in ("/approve", "/reject", "/revoke", "/verification", '/bulk-issuances"'):
            assert f'action="{path.split("?")[0]}{action}' not in page, (path, action)


def test_a_sysadmin_cannot_decide_on_the_pages(client, auth, session, create_user, world):
    auth.login(create_user(Role.SYSADMIN))
    for url, data in _web_decisions(world):
        kwargs = {"content_type": "multipart/form-data"} if "file" in data else {}
        assert client.post(url, data=data, **kwargs).status_code == 403, url
    _unchanged(session, world)


def test_a_sysadmin_cannot_decide_over_the_api(client, session, api_token, create_user, world):
    headers = api_token(create_user(Role.SYSADMIN))
    for path in ("/enterprises?verification_status=pending", "/applications", "/vouchers"):
        assert client.get(f"/api/v1{path}", headers=headers).status_code == 200, path
    for path, body in _api_decisions(world):
        response = client.post(
            f"/api/v1{path}",
            json=body,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 403, (path, response.get_data(as_text=True))
        assert response.get_json()["code"] == "forbidden"
    _unchanged(session, world)


def test_a_reviewer_decides(client, session, api_token, create_user, world):
    headers = api_token(create_user(Role.REVIEWER))
    verified = client.post(
        f"/api/v1/enterprises/{world['pending'].id}/verification",
        json={"decision": "verified", "note": "材料齐全"},
        headers=headers,
    )
    assert verified.status_code == 200, verified.get_data(as_text=True)
    session.expire_all()
    assert world["pending"].verification_status is VerificationStatus.VERIFIED
