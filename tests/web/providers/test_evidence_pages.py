"""What an admitted provider changes — documents, qualification numbers, related-party
withdrawals — waits for a reviewer, on the pages and through the API; the public pages keep
showing what was accepted."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.enums import Role
from providers import related
from providers.enums import ProviderStatus, QualificationKind, RelationKind, ReviewStatus
from providers.models import ProviderDocument, QualificationChange, RelatedParty
from tests.support.fixtures import unique_credit_code
from tests.support.provider_fixtures import PDF, cma_number


def _text(response) -> str:
    return response.get_data(as_text=True)


def _problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["code"] == code
    return response.get_json()


@pytest.fixture
def admitted(provider_stages, create_user):
    provider = provider_stages.admitted()
    return provider, create_user(Role.PROVIDER, provider=provider)


def _live_cma(provider) -> str:
    return next(q.number for q in provider.qualifications if q.kind is QualificationKind.CMA)


def _expiry() -> str:
    return (clock.today() + timedelta(days=400)).isoformat()


def test_portal_requests_wait_and_the_reviewer_decides_them_on_the_provider_page(
    client, auth, session, admitted, reviewer, create_user
):
    provider, user = admitted
    live = _live_cma(provider)
    new = cma_number()
    auth.login(user)
    response = client.post(
        "/provider/application/documents",
        data={
            "kind": "cma_certificate",
            "expires_on": _expiry(),
            "file": (io.BytesIO(PDF), "cma-2027.pdf"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "审核员审核通过后生效" in _text(response)
    document = session.scalar(
        sa.select(ProviderDocument).where(ProviderDocument.original_filename == "cma-2027.pdf")
    )
    assert document.review_status is ReviewStatus.PENDING
    assert document.uploaded_by_id == user.id
    assert "待审核" in _text(client.get("/provider/application/documents"))
    response = client.post(
        "/provider/application/qualifications",
        data={"kind": "cma", "cma-number": new, "cma-valid_until": ""},
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = _text(response)
    assert new in page and live in page and 'data-testid="pending-cma"' in page
    session.expire_all()
    assert _live_cma(provider) == live
    declaration = related.declare_related_party(
        session,
        provider,
        credit_code=unique_credit_code(),
        name="关联企业有限公司",
        relation=RelationKind.SUBSIDIARY,
        note=None,
        actor_id=user.id,
    )
    response = client.post(
        f"/provider/related-parties/{declaration.id}/withdraw",
        data={"withdraw-reason": "股权已转让"},
        follow_redirects=True,
    )
    assert "审核员同意前，该申报继续有效" in _text(response)
    session.expire_all()
    assert declaration.is_active
    auth.logout()

    # The public page still shows the number accepted before.
    public = _text(client.get(f"/catalogue/providers/{provider.id}"))
    assert live in public and new not in public

    change = session.scalar(sa.select(QualificationChange))
    withdrawal = declaration.pending_withdrawal
    base = f"/admin/providers/{provider.id}"
    urls = {
        "document": f"{base}/documents/{document.id}",
        "qualification": f"{base}/qualification-changes/{change.id}",
        "withdrawal": f"{base}/related-party-withdrawals/{withdrawal.id}",
    }
    for role in (Role.FINANCE, Role.SYSADMIN, Role.AUDITOR):
        auth.login(create_user(role))
        page = _text(client.get(base))
        assert "/approve" not in page
        for url in urls.values():
            assert client.post(f"{url}/approve").status_code == 403
        auth.logout()

    auth.login(reviewer)
    assert provider.name in _text(client.get("/admin/providers?queue=evidence"))
    page = _text(client.get(base))
    for url in urls.values():
        assert f"{url}/approve" in page and f"{url}/reject" in page
    assert client.post(f"{urls['document']}/approve").status_code == 302
    assert client.post(f"{urls['qualification']}/reject", data={"reason": ""}).status_code == 302
    session.expire_all()
    assert change.status is ReviewStatus.PENDING  # refused: a rejection needs its reason
    client.post(f"{urls['qualification']}/reject", data={"reason": "CMA系统查无此号"})
    client.post(f"{urls['withdrawal']}/reject", data={"reason": "未见变更登记"})
    session.expire_all()
    assert document.review_status is ReviewStatus.ACCEPTED
    assert document.decided_by_id == reviewer.id
    assert change.status is ReviewStatus.REJECTED and _live_cma(provider) == live
    assert declaration.is_active and withdrawal.status is ReviewStatus.REJECTED
    assert provider.name not in _text(client.get("/admin/providers?queue=evidence"))
    assert "CMA系统查无此号" in _text(client.get(base))
    auth.logout()

    auth.login(user)
    assert "CMA系统查无此号" in _text(client.get("/provider/application/qualifications"))
    assert "未见变更登记" in _text(client.get("/provider/related-parties"))


def test_the_api_reviews_documents_and_qualification_numbers(
    client, session, api_token, admitted, reviewer, create_user
):
    provider, user = admitted
    headers = api_token(user)
    reviewer_headers = api_token(reviewer)
    live = _live_cma(provider)

    refused = _problem(
        client.post(
            "/api/v1/provider/application/documents",
            headers=headers,
            data={"kind": "patent_agency_licence", "file": (io.BytesIO(PDF), "a.pdf")},
            content_type="multipart/form-data",
        ),
        422,
        "validation_failed",
    )
    assert "expires_on" in refused["errors"]
    uploaded = client.post(
        "/api/v1/provider/application/documents",
        headers=headers,
        data={
            "kind": "cma_certificate",
            "expires_on": _expiry(),
            "file": (io.BytesIO(PDF), "cma-2027.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, _text(uploaded)
    document = uploaded.get_json()
    assert document["review_status"] == "pending" and document["decided_at"] is None

    queue = client.get(
        "/api/v1/admin/documents",
        headers=reviewer_headers,
        query_string={"status": "pending", "provider_id": provider.id},
    ).get_json()["items"]
    assert [d["id"] for d in queue] == [document["id"]]
    _problem(
        client.post(
            f"/api/v1/admin/documents/{document['id']}/approve",
            headers=api_token(create_user(Role.FINANCE)),
            json={},
        ),
        403,
        "forbidden",
    )
    _problem(
        client.post(
            f"/api/v1/admin/documents/{document['id']}/reject",
            headers=reviewer_headers,
            json={"reason": ""},
        ),
        422,
        "validation_failed",
    )
    rejected = client.post(
        f"/api/v1/admin/documents/{document['id']}/reject",
        headers=reviewer_headers,
        json={"reason": "扫描件不清晰"},
    )
    assert rejected.status_code == 200, _text(rejected)
    assert rejected.get_json()["review_status"] == "rejected"
    _problem(
        client.post(
            f"/api/v1/admin/documents/{document['id']}/approve",
            headers=reviewer_headers,
            json={},
        ),
        409,
        "review_not_pending",
    )
    mine = client.get("/api/v1/provider/application/documents", headers=headers).get_json()
    assert {d["review_status"] for d in mine} == {"accepted", "rejected"}

    new = cma_number()
    response = client.put(
        "/api/v1/provider/application/qualifications/cma",
        headers=headers,
        json={"number": new},
    )
    assert response.status_code == 200, _text(response)
    body = response.get_json()
    assert body["in_force"] is False and body["number"] == new
    change = body["change"]
    assert change["status"] == "pending"
    application = client.get("/api/v1/provider/application", headers=headers).get_json()
    assert [c["id"] for c in application["pending_qualification_changes"]] == [change["id"]]
    assert live in {q["number"] for q in application["qualifications"]}
    public = client.get(f"/api/v1/catalogue/providers/{provider.id}").get_json()
    assert {q["number"] for q in public["provider"]["qualifications"]} == {live}

    listed = client.get(
        "/api/v1/admin/qualification-changes?status=pending", headers=reviewer_headers
    ).get_json()["items"]
    assert [c["id"] for c in listed] == [change["id"]]
    accepted = client.post(
        f"/api/v1/admin/qualification-changes/{change['id']}/approve",
        headers=reviewer_headers,
        json={"reason": "已在CMA系统核验"},
    )
    assert accepted.status_code == 200, _text(accepted)
    assert accepted.get_json()["status"] == "accepted"
    public = client.get(f"/api/v1/catalogue/providers/{provider.id}").get_json()
    assert {q["number"] for q in public["provider"]["qualifications"]} == {new}
    history = client.get(
        "/api/v1/provider/application/qualification-changes", headers=headers
    ).get_json()
    assert [(c["number"], c["decision_reason"]) for c in history] == [(new, "已在CMA系统核验")]


def test_before_admission_the_number_is_in_force_at_once(client, api_token, create_user):
    provider_user = create_user(Role.PROVIDER)
    provider_user.provider.status = ProviderStatus.PENDING
    headers = api_token(provider_user)
    body = client.put(
        "/api/v1/provider/application/qualifications/cnas",
        headers=headers,
        json={"number": "L4321"},
    ).get_json()
    assert body == {
        "kind": "cnas",
        "number": "CNAS L4321",
        "valid_until": None,
        "scope": None,
        "in_force": True,
        "change": None,
    }


def test_declarations_withdrawn_through_the_portal_before_submission_end_at_once(
    client, auth, session, create_user, create_provider
):
    user = create_user(Role.PROVIDER, provider=create_provider(status=ProviderStatus.PENDING))
    auth.login(user)
    client.post(
        "/provider/related-parties",
        data={"credit_code": unique_credit_code(), "name": "关联公司", "relation": "subsidiary"},
    )
    declaration = session.scalar(sa.select(RelatedParty))
    response = client.post(
        f"/provider/related-parties/{declaration.id}/withdraw",
        data={"withdraw-reason": "误报"},
        follow_redirects=True,
    )
    assert "关联方申报已撤回" in _text(response)
    session.expire_all()
    assert not declaration.is_active
