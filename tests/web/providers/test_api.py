"""The provider endpoints of the JSON API, per role: public catalogue and notice, the
provider's own file and services, and the administrators' review."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import clock, masking
from marketplace.enums import InstitutionType, Role, ServiceCategory
from providers import admission, credit
from providers.enums import CreditEventKind, ProviderStatus
from providers.models import ProviderDocument, Service
from tests.support.fixtures import unique_credit_code
from tests.support.provider_fixtures import ELF, PDF, PNG


def _problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    return response.get_json()


def test_public_search_finds_chinese_and_mixed_queries(client, create_provider, create_service):
    lab = create_provider(name="云南省产品质量监督检验研究院")
    agency = create_provider(
        name="昆明知信专利代理事务所", institution_type=InstitutionType.IP_AGENCY
    )
    platform = create_provider(
        name="仪器共享平台", institution_type=InstitutionType.INSTRUMENT_PLATFORM
    )
    create_service(lab, title="材料检测服务")
    create_service(
        agency, title="专利代理", category=ServiceCategory.IP, description="发明专利申请代理。"
    )
    create_service(
        platform,
        title="扫描电镜 SEM 机时共享",
        category=ServiceCategory.INSTRUMENT_SHARING,
        description="场发射扫描电子显微镜。",
    )

    def titles(**params):
        response = client.get("/api/v1/catalogue/services", query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["title"] for item in response.get_json()["items"]]

    assert titles(q="检测") == ["材料检测服务"]
    assert titles(q="专利") == ["专利代理"]
    assert titles(q="SEM 扫描电镜") == ["扫描电镜 SEM 机时共享"]
    assert titles(institution_type="ip_agency") == ["专利代理"]
    page = client.get("/api/v1/catalogue/services", query_string={"limit": 2, "sort": "newest"})
    body = page.get_json()
    assert len(body["items"]) == 2 and body["next_cursor"]
    rest = client.get(
        "/api/v1/catalogue/services",
        query_string={"limit": 2, "sort": "newest", "cursor": body["next_cursor"]},
    ).get_json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    _problem(client.get("/api/v1/catalogue/services?sort=bogus"), 422, "validation_failed")
    _problem(client.get("/api/v1/catalogue/services?cursor=xyz"), 422, "validation_failed")
    item = body["items"][0]
    assert item["currency"] == "CNY" and isinstance(item["price_fen"], int)


def test_public_provider_page_and_service(client, session, create_service):
    service = create_service()
    provider = client.get(f"/api/v1/catalogue/providers/{service.provider_id}").get_json()
    assert provider["credit"]["score"] == 75 and provider["credit"]["band"] == "B"
    assert client.get(f"/api/v1/catalogue/services/{service.id}").status_code == 200
    service.provider.status = ProviderStatus.SUSPENDED
    session.flush()
    _problem(client.get(f"/api/v1/catalogue/services/{service.id}"), 404, "not_found")


def test_provider_application_through_the_api(
    client, session, api_token, create_user, create_provider, create_programme
):
    provider = create_provider(status=ProviderStatus.PENDING)
    headers = api_token(create_user(Role.PROVIDER, provider=provider))
    programme = create_programme(year=clock.today().year)

    current = client.get("/api/v1/provider/application", headers=headers).get_json()
    assert current["status"] == "pending" and "documents" in current["missing"]
    response = client.patch(
        "/api/v1/provider/application",
        headers=headers,
        json={"version": current["version"] + 1, "address": "昆明"},
    )
    _problem(response, 412, "precondition_failed")
    response = client.patch(
        "/api/v1/provider/application",
        headers=headers,
        json={
            "version": current["version"],
            "accreditation_level": "national",
            "service_categories": ["testing"],
            "bank_account_name": provider.name,
            "bank_name": "中国银行昆明分行",
            "bank_account_number": "1234 5678 9012",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["bank_account_number"] == "1234 **** **** 9012"  # masked

    refused = _problem(
        client.put(
            "/api/v1/provider/application/qualifications/cma",
            headers=headers,
            json={"number": "12-34"},
        ),
        422,
        "validation_failed",
    )
    assert "number" in refused["errors"]
    _problem(
        client.put(
            "/api/v1/provider/application/qualifications/cma",
            headers=headers,
            json={"number": "1923 1205 0123", "valid_until": "2001-01-01"},
        ),
        409,
        "qualification_expired",
    )
    assert (
        client.put(
            "/api/v1/provider/application/qualifications/cnas",
            headers=headers,
            json={"number": "L1234"},
        ).get_json()["number"]
        == "CNAS L1234"
    )
    expiry = (clock.today() + timedelta(days=300)).isoformat()
    for kind, data, name in (
        ("business_licence", PDF, "a.pdf"),
        ("cnas_certificate", PNG, "c.png"),
    ):
        response = client.post(
            "/api/v1/provider/application/documents",
            headers=headers,
            data={"kind": kind, "expires_on": expiry, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_data(as_text=True)
    document_id = response.get_json()["id"]
    content = client.get(
        f"/api/v1/provider/application/documents/{document_id}", headers=headers
    ).get_json()
    assert base64.b64decode(content["content_base64"]) == PNG

    assert (
        client.post(
            "/api/v1/provider/application/commitment",
            headers=headers,
            json={"signer_name": "张伟", "signer_title": "主任", "agreed": True},
        ).get_json()["signed"]
        is True
    )
    choices = client.get("/api/v1/provider/application/programmes", headers=headers).get_json()
    assert [c["programme_id"] for c in choices] == [programme.id]
    client.put(
        "/api/v1/provider/application/programmes",
        headers=headers,
        json={"programme_ids": [programme.id]},
    )
    submitted = client.post("/api/v1/provider/application/submit", headers=headers)
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    assert submitted.get_json()["submitted_at"] and submitted.get_json()["missing"] == {}
    _problem(
        client.post("/api/v1/provider/application/submit", headers=headers),
        409,
        "provider_transition_not_allowed",
    )


def test_disguised_and_oversized_uploads_through_the_api(
    make_app, session, api_token, create_user, create_provider
):
    client = make_app(MAX_UPLOAD_BYTES="2048").test_client()
    headers = api_token(create_user(Role.PROVIDER, provider=create_provider()))

    def upload(data, name):
        return client.post(
            "/api/v1/provider/application/documents",
            headers=headers,
            data={"kind": "other", "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    body = _problem(upload(ELF, "licence.pdf"), 422, "unsupported_file_type")
    assert body["detected"] == "executable (ELF)"
    _problem(upload(PNG, "licence.pdf"), 422, "file_extension_mismatch")
    _problem(upload(PDF + b"0" * 2048, "big.pdf"), 413, "file_too_large")
    _problem(
        client.post("/api/v1/provider/application/documents", headers=headers, json={}),
        415,
        "unsupported_media_type",
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(ProviderDocument)) == 0


def test_services_through_the_api_with_versions_and_ownership(
    client, session, api_token, create_user, create_provider, create_service
):
    provider = create_provider(service_categories=["instrument_sharing", "testing"])
    headers = api_token(create_user(Role.PROVIDER, provider=provider))
    response = client.post(
        "/api/v1/provider/instruments",
        headers=headers,
        json={
            "title": "X射线衍射仪 XRD 机时共享",
            "description": "多功能X射线衍射仪，物相鉴定。",
            "lead_time_days": 3,
            "instrument": {
                "instrument_name": "多功能X射线衍射仪",
                "model": "SmartLab",
                "location": "昆明市呈贡区B105",
                "hourly_rate_fen": 40_000,
            },
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["price_fen"] == 40_000 and created["instrument"]["model"] == "SmartLab"

    update = {
        "title": "材料检测服务",
        "category": "testing",
        "description": "金属材料力学性能检测。",
        "price_fen": None,
        "unit": "样品",
        "lead_time_days": 5,
    }
    response = client.put(
        f"/api/v1/provider/services/{created['id']}", headers=headers, json={**update, "version": 9}
    )
    _problem(response, 412, "precondition_failed")
    response = client.put(
        f"/api/v1/provider/services/{created['id']}", headers=headers, json={**update, "version": 1}
    )
    assert response.get_json()["price_fen"] is None and response.get_json()["version"] == 2
    assert response.get_json()["pricing"] == "quote" and response.get_json()["instrument"] is None
    _problem(
        client.post(
            "/api/v1/provider/services",
            headers=headers,
            json={**update, "category": "audit", "price_fen": 100},
        ),
        409,
        "category_not_admitted",
    )
    response = client.put(
        f"/api/v1/provider/services/{created['id']}/active",
        headers=headers,
        json={"is_active": False, "version": 2},
    )
    assert response.get_json()["is_active"] is False

    someone_elses = create_service()
    _problem(
        client.get(f"/api/v1/provider/services/{someone_elses.id}", headers=headers),
        404,
        "not_found",
    )
    listed = client.get("/api/v1/provider/services", headers=headers).get_json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    assert session.scalar(sa.select(sa.func.count()).select_from(Service)) == 2


def test_related_parties_through_the_api(client, api_token, create_user):
    headers = api_token(create_user(Role.PROVIDER))
    body = _problem(
        client.post(
            "/api/v1/provider/related-parties",
            headers=headers,
            json={
                "credit_code": "91530102MA6N00011B",
                "name": "关联公司",
                "relation": "subsidiary",
            },
        ),
        422,
        "invalid_credit_code",
    )
    assert "credit_code" in body["errors"]
    code = unique_credit_code()
    created = client.post(
        "/api/v1/provider/related-parties",
        headers=headers,
        json={"credit_code": code, "name": "关联公司", "relation": "subsidiary"},
    )
    assert created.status_code == 201
    _problem(
        client.post(
            "/api/v1/provider/related-parties",
            headers=headers,
            json={"credit_code": code, "name": "关联公司", "relation": "subsidiary"},
        ),
        409,
        "duplicate_declaration",
    )
    requested = client.post(
        f"/api/v1/provider/related-parties/{created.get_json()['id']}/withdraw",
        headers=headers,
        json={"reason": "已转让"},
    )
    assert requested.status_code == 200, requested.get_data(as_text=True)
    # The provider is admitted: the declaration stays in force until a reviewer accepts.
    body = requested.get_json()
    assert body["withdrawn_at"] is None
    pending = body["pending_withdrawal"]
    assert pending["status"] == "pending" and pending["reason"] == "已转让"
    reviewer = api_token(create_user(Role.REVIEWER))
    queue = client.get(
        "/api/v1/admin/related-party-withdrawals?status=pending", headers=reviewer
    ).get_json()["items"]
    assert [w["id"] for w in queue] == [pending["id"]]
    _problem(
        client.post(
            f"/api/v1/admin/related-party-withdrawals/{pending['id']}/approve",
            headers=headers,
            json={},
        ),
        403,
        "forbidden",
    )
    decided = client.post(
        f"/api/v1/admin/related-party-withdrawals/{pending['id']}/approve",
        headers=reviewer,
        json={},
    )
    assert decided.status_code == 200, decided.get_data(as_text=True)
    assert decided.get_json()["status"] == "accepted"
    (declaration,) = client.get("/api/v1/provider/related-parties", headers=headers).get_json()
    assert declaration["withdrawn_at"] and declaration["pending_withdrawal"] is None
    _problem(
        client.post(
            f"/api/v1/admin/related-party-withdrawals/{pending['id']}/reject",
            headers=reviewer,
            json={"reason": "重复"},
        ),
        409,
        "review_not_pending",
    )


def test_roles_on_provider_and_admin_endpoints(client, api_token, create_user, create_provider):
    provider = create_provider()
    enterprise = api_token(create_user(Role.ENTERPRISE))
    _problem(client.get("/api/v1/provider/application", headers=enterprise), 403, "forbidden")
    _problem(client.get("/api/v1/provider/application"), 401, "unauthenticated")
    _problem(client.get("/api/v1/admin/providers", headers=enterprise), 403, "forbidden")
    finance = api_token(create_user(Role.FINANCE))
    assert client.get(f"/api/v1/admin/providers/{provider.id}", headers=finance).status_code == 200
    _problem(
        client.post(
            f"/api/v1/admin/providers/{provider.id}/suspend", headers=finance, json={"reason": "x"}
        ),
        403,
        "forbidden",
    )


def test_review_notice_objection_and_admission_through_the_api(
    client, session, api_token, reviewer, provider_stages
):
    headers = api_token(reviewer)
    provider = provider_stages.submitted()
    queue = client.get(
        "/api/v1/admin/providers",
        headers=headers,
        query_string={"status": "pending", "submitted": "true"},
    ).get_json()
    assert [p["id"] for p in queue["items"]] == [provider.id]

    response = client.post(f"/api/v1/admin/providers/{provider.id}/pass-to-notice", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "in_notice"
    notices = client.get("/api/v1/catalogue/notices").get_json()
    assert [n["id"] for n in notices] == [provider.id] and notices[0]["commitment_signed"]

    objection = {
        "objector_name": "李女士",
        "objector_contact": "li@example.cn",
        "grounds": "该机构检测能力与申报不符。",
    }
    filed = client.post(f"/api/v1/catalogue/notices/{provider.id}/objections", json=objection)
    assert filed.status_code == 201 and filed.get_json()["status"] == "open"
    _problem(
        client.post(f"/api/v1/admin/providers/{provider.id}/admit", headers=headers),
        409,
        "notice_not_over",
    )

    provider.notice_ends_on = clock.today() - timedelta(days=1)
    session.flush()
    _problem(
        client.post(f"/api/v1/catalogue/notices/{provider.id}/objections", json=objection),
        409,
        "provider_not_in_notice",
    )
    _problem(
        client.post(f"/api/v1/admin/providers/{provider.id}/admit", headers=headers),
        409,
        "objections_pending",
    )
    open_ones = client.get("/api/v1/admin/objections?status=open", headers=headers).get_json()
    objection_id = open_ones["items"][0]["id"]
    _problem(
        client.post(
            f"/api/v1/admin/objections/{objection_id}/dismiss", headers=headers, json={"reason": ""}
        ),
        422,
        "validation_failed",
    )
    dismissed = client.post(
        f"/api/v1/admin/objections/{objection_id}/dismiss",
        headers=headers,
        json={"reason": "经核查不属实。"},
    )
    assert dismissed.get_json()["status"] == "dismissed"
    admitted = client.post(f"/api/v1/admin/providers/{provider.id}/admit", headers=headers)
    assert admitted.get_json()["status"] == "admitted"
    assert [h["action"] for h in admitted.get_json()["history"]] == [
        "submit",
        "pass_to_notice",
        "admit",
    ]

    suspended = client.post(
        f"/api/v1/admin/providers/{provider.id}/suspend",
        headers={**headers, "Idempotency-Key": "suspend-1"},
        json={"reason": "投诉待查。"},
    )
    replay = client.post(
        f"/api/v1/admin/providers/{provider.id}/suspend",
        headers={**headers, "Idempotency-Key": "suspend-1"},
        json={"reason": "投诉待查。"},
    )
    assert suspended.get_json()["status"] == replay.get_json()["status"] == "suspended"
    session.expire_all()
    assert sum(1 for h in provider.history if h.action.value == "suspend") == 1

    assessment = client.post(
        f"/api/v1/admin/providers/{provider.id}/assessments",
        headers=headers,
        json={
            "evaluator_name": "昆明市科技局",
            "score": 90,
            "period": "2026",
            "comment": "年度考核优秀。",
        },
    )
    assert assessment.status_code == 201
    credit = client.get(f"/api/v1/admin/providers/{provider.id}/credit", headers=headers).get_json()
    assert credit["score"] == 80 and credit["administrators"] == 90


def test_what_the_provider_page_shows_administrators(
    client, session, api_token, create_user, create_provider, provider_stages
):
    """The admin provider page's commitment, credit events and that provider's objections."""
    provider = provider_stages.in_notice()
    neighbour = provider_stages.in_notice()
    unsigned = create_provider(status=ProviderStatus.PENDING)
    for target, grounds in (
        (provider, "检测能力与申报情况不符。"),
        (neighbour, "注册地址与实际经营地址不一致。"),
    ):
        admission.file_objection(
            session,
            target.id,
            objector_name="李女士",
            objector_contact="li@example.cn",
            grounds=grounds,
            today=target.notice_starts_on,
        )
    day = provider.notice_starts_on
    credit.record_credit_event(
        session, provider.id, CreditEventKind.LATE_DELIVERY, "order:7", occurred_on=day
    )
    credit.record_credit_event(
        session, provider.id, CreditEventKind.UPHELD_DISPUTE, "order:9", occurred_on=day
    )
    auditor = api_token(create_user(Role.AUDITOR))
    url = f"/api/v1/admin/providers/{provider.id}"

    commitment = client.get(f"{url}/commitment", headers=auditor).get_json()
    assert commitment["signed"] and commitment["signer_name"] == "张伟"
    assert commitment["text"] and commitment["version"]
    blank = client.get(f"/api/v1/admin/providers/{unsigned.id}/commitment", headers=auditor)
    assert blank.status_code == 200 and blank.get_json()["signed"] is False

    events = client.get(f"{url}/credit-events", headers=auditor).get_json()
    assert [(e["kind"], e["order_ref"]) for e in events] == [
        ("upheld_dispute", "order:9"),
        ("late_delivery", "order:7"),
    ]
    assert events[0]["occurred_on"] == day.isoformat() and events[0]["recorded_at"]
    neighbours = client.get(
        f"/api/v1/admin/providers/{neighbour.id}/credit-events", headers=auditor
    )
    assert neighbours.get_json() == []

    objections = client.get(
        "/api/v1/admin/objections", headers=auditor, query_string={"provider_id": provider.id}
    ).get_json()
    assert [o["grounds"] for o in objections["items"]] == ["检测能力与申报情况不符。"]
    everyone = client.get("/api/v1/admin/objections", headers=auditor).get_json()
    assert len(everyone["items"]) == 2

    own = api_token(create_user(Role.PROVIDER, provider=provider))
    _problem(client.get(f"{url}/commitment", headers=own), 403, "forbidden")
    _problem(client.get(f"{url}/credit-events", headers=own), 403, "forbidden")
    for path in ("commitment", "credit-events"):
        _problem(
            client.get(f"/api/v1/admin/providers/999999/{path}", headers=auditor), 404, "not_found"
        )
    _problem(client.get(f"{url}/credit-events?limit=5", headers=auditor), 422, "validation_failed")
    _problem(
        client.get("/api/v1/admin/objections?provider_id=0", headers=auditor),
        422,
        "validation_failed",
    )


def test_participation_through_the_api(client, api_token, reviewer, provider_stages):
    provider = provider_stages.admitted()
    programme_id = provider.participations[0].programme_id
    headers = api_token(reviewer)
    url = f"/api/v1/admin/providers/{provider.id}/programmes/{programme_id}"
    _problem(
        client.put(url, headers=headers, json={"status": "withdrawn", "reason": "  "}),
        422,
        "validation_failed",
    )
    response = client.put(
        url, headers=headers, json={"status": "withdrawn", "reason": "考核不合格"}
    )
    assert response.get_json()["status"] == "withdrawn"
    _problem(
        client.put(url, headers=headers, json={"status": "rejected", "reason": "x"}),
        409,
        "participation_not_allowed",
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/admin/providers/999999", "/api/v1/admin/providers/999999/credit"]
)
def test_unknown_providers_are_not_found(client, api_token, reviewer, path):
    _problem(client.get(path, headers=api_token(reviewer)), 404, "not_found")


def test_nul_characters_are_refused_not_crashed_on(client, api_token, create_user, create_provider):
    provider = create_provider(status=ProviderStatus.PENDING)
    headers = api_token(create_user(Role.PROVIDER, provider=provider))
    response = client.patch(
        "/api/v1/provider/application",
        headers=headers,
        json={"version": provider.version, "address": "昆明\x00"},
    )
    body = _problem(response, 422, "validation_failed")
    assert "address" in body["errors"]
    _problem(
        client.get("/api/v1/catalogue/services", query_string={"q": "检\x00测"}),
        422,
        "validation_failed",
    )


def test_sysadmins_read_provider_queues_but_do_not_decide(
    client, session, api_token, create_user, provider_stages
):
    submitted = provider_stages.submitted()
    admitted = provider_stages.admitted()
    sysadmin = api_token(create_user(Role.SYSADMIN))
    listed = client.get("/api/v1/admin/providers?status=pending&submitted=true", headers=sysadmin)
    assert listed.status_code == 200
    assert submitted.id in [p["id"] for p in listed.get_json()["items"]]
    assert client.get("/api/v1/admin/objections", headers=sysadmin).status_code == 200
    for provider, action, body in (
        (submitted, "pass-to-notice", None),
        (submitted, "reject", {"reason": "自行决定"}),
        (admitted, "suspend", {"reason": "自行决定"}),
        (admitted, "revoke", {"reason": "自行决定"}),
    ):
        _problem(
            client.post(
                f"/api/v1/admin/providers/{provider.id}/{action}", headers=sysadmin, json=body
            ),
            403,
            "forbidden",
        )
    session.expire_all()
    assert (submitted.status, admitted.status) == (ProviderStatus.PENDING, ProviderStatus.ADMITTED)


CHECKED = {"reason": "已核对开户许可证"}


def test_bank_account_changes_through_the_api(
    client, session, api_token, create_user, provider_stages
):
    provider = provider_stages.admitted()
    own = api_token(create_user(Role.PROVIDER, provider=provider))
    finance_user = create_user(Role.FINANCE)
    finance = api_token(finance_user, step_up=True)
    live = provider.bank_account_number
    current = client.get("/api/v1/provider/application", headers=own).get_json()
    assert current["pending_bank_change"] is None

    # Categories were reviewed for admission and stay as they are.
    locked = _problem(
        client.patch(
            "/api/v1/provider/application",
            headers=own,
            json={"version": current["version"], "service_categories": ["testing", "audit"]},
        ),
        409,
        "service_categories_locked",
    )
    assert "new application" in locked["detail"]
    mismatch = _problem(
        client.patch(
            "/api/v1/provider/application",
            headers=own,
            json={"version": current["version"], "bank_account_name": "某某贸易有限公司"},
        ),
        422,
        "bank_account_name_mismatch",
    )
    assert mismatch["registered_name"] == provider.name

    asked = client.patch(
        "/api/v1/provider/application",
        headers=own,
        json={"version": current["version"], "bank_account_number": "6222 0211 0000 1234 567"},
    )
    assert asked.status_code == 200, asked.get_data(as_text=True)
    body = asked.get_json()
    # the live account is what payouts use (shown masked, like every account)
    assert body["bank_account_number"] == masking.bank_account(live)
    pending = body["pending_bank_change"]
    assert (
        pending["status"] == "pending" and pending["bank_account_number"] == "6222 **** **** 4567"
    )
    assert pending["bank_account_name"] == provider.name
    mine = client.get("/api/v1/provider/application/bank-changes", headers=own).get_json()
    assert [c["id"] for c in mine] == [pending["id"]]

    queue = client.get("/api/v1/admin/bank-changes?status=pending", headers=finance).get_json()
    assert [c["id"] for c in queue["items"]] == [pending["id"]]
    approve = f"/api/v1/admin/bank-changes/{pending['id']}/approve"
    for role in (Role.REVIEWER, Role.SYSADMIN, Role.AUDITOR):
        _problem(
            client.post(approve, headers=api_token(create_user(role)), json=CHECKED),
            403,
            "forbidden",
        )
    _problem(client.post(approve, headers=own, json=CHECKED), 403, "forbidden")
    _problem(client.post(approve, headers=finance, json={}), 422, "validation_failed")
    _problem(
        client.post(f"/api/v1/admin/bank-changes/{pending['id']}/reject", headers=finance, json={}),
        422,
        "validation_failed",
    )
    approved = client.post(approve, headers=finance, json={"reason": "已核对开户许可证"})
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["decided_by_id"] == finance_user.id
    again = client.post(approve, headers=finance, json=CHECKED)
    _problem(again, 409, "bank_change_not_pending")
    after = client.get(f"/api/v1/admin/providers/{provider.id}", headers=finance).get_json()
    assert after["bank_account_number"] == "6222 **** **** 4567"
    assert after["pending_bank_change"] is None
    assert (
        client.get("/api/v1/admin/bank-changes?status=pending", headers=finance).get_json()["items"]
        == []
    )

    # A rejection keeps the live account and says why.
    version = client.get("/api/v1/provider/application", headers=own).get_json()["version"]
    second = client.patch(
        "/api/v1/provider/application",
        headers=own,
        json={"version": version, "bank_name": "中国建设银行昆明分行"},
    ).get_json()["pending_bank_change"]
    rejected = client.post(
        f"/api/v1/admin/bank-changes/{second['id']}/reject",
        headers=finance,
        json={"reason": "开户证明与户名不符"},
    )
    assert rejected.status_code == 200
    assert rejected.get_json()["decision_reason"] == "开户证明与户名不符"
    history = client.get(
        f"/api/v1/admin/bank-changes?provider_id={provider.id}", headers=finance
    ).get_json()["items"]
    assert [c["status"] for c in history] == ["rejected", "approved"]
    final = client.get("/api/v1/provider/application", headers=own).get_json()
    assert final["bank_name"] != "中国建设银行昆明分行"
