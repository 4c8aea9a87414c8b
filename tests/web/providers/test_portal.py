"""The provider portal: from an empty registration to listed services, through the pages."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.enums import Role
from providers.enums import BankChangeStatus, DocumentKind, ParticipationStatus, ProviderStatus
from providers.models import BankAccountChange, ProviderDocument, RelatedParty, Service
from tests.support.fixtures import unique_credit_code
from tests.support.provider_fixtures import ELF, PDF, PNG, TODAY


@pytest.fixture
def provider_user(create_user, create_provider):
    provider = create_provider(status=ProviderStatus.PENDING)
    return create_user(Role.PROVIDER, provider=provider)


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/provider/",
        "/provider/application",
        "/provider/application/qualifications",
        "/provider/application/documents",
        "/provider/application/commitment",
        "/provider/application/programmes",
        "/provider/services",
        "/provider/services/new",
        "/provider/related-parties",
    ],
)
def test_portal_pages_need_a_provider_account(client, auth, create_user, provider_user, path):
    assert client.get(path).status_code == 302  # to the login page
    auth.login(create_user(Role.ENTERPRISE))
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login(provider_user)
    assert client.get(path).status_code == 200


def test_from_registration_to_submitted_application(
    client, auth, session, provider_user, create_programme
):
    programme = create_programme(year=clock.today().year)
    auth.login(provider_user)
    provider = provider_user.provider
    page = client.get("/provider/")
    assert 'data-testid="missing"' in _text(page)

    response = client.post(
        "/provider/application",
        data={
            "version": str(provider.version),
            "accreditation_level": "provincial",
            "service_categories": ["testing", "instrument_sharing"],
            "description": "省级检验检测机构。",
            "contact_name": "张伟",
            "contact_phone": "0871-65550000",
            "contact_email": "zw@example.cn",
            "bank_account_name": provider.name,
            "bank_name": "中国工商银行昆明分行",
            "bank_account_number": "2502010009000012345",
        },
    )
    assert response.status_code == 302
    response = client.post(
        "/provider/application/qualifications",
        data={"kind": "cma", "cma-number": "192312050123", "cma-valid_until": ""},
    )
    assert response.status_code == 302
    expiry = (clock.today() + timedelta(days=400)).isoformat()
    for kind, data, name in (
        ("business_licence", PDF, "执照.pdf"),
        ("cma_certificate", PNG, "cma.png"),
    ):
        response = client.post(
            "/provider/application/documents",
            data={"kind": kind, "expires_on": expiry, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302, _text(response)
    response = client.post(
        "/provider/application/commitment",
        data={"signer_name": "张伟", "signer_title": "法定代表人", "agreed": "y"},
    )
    assert response.status_code == 302
    response = client.post(
        "/provider/application/programmes", data={"programme_ids": [str(programme.id)]}
    )
    assert response.status_code == 302
    response = client.post("/provider/application/submit")
    assert response.status_code == 302
    session.expire_all()
    assert provider.status is ProviderStatus.PENDING and provider.submitted_at is not None
    assert provider.qualifications[0].number == "192312050123"
    assert [p.status for p in provider.participations] == [ParticipationStatus.APPLIED]
    assert "submitted, awaiting review" in _text(client.get("/provider/?lang=en"))
    # Under review the file is frozen.
    response = client.post(
        "/provider/application",
        data={
            "version": str(provider.version),
            "contact_name": "李四",
            "contact_phone": "0871",
            "contact_email": "x@example.cn",
        },
    )
    assert response.status_code == 409
    session.expire_all()
    assert provider.contact_name == "张伟"


def test_incomplete_submission_is_refused_with_the_list(client, auth, session, provider_user):
    auth.login(provider_user)
    response = client.post("/provider/application/submit", follow_redirects=True)
    assert "申请材料不完整" in _text(response)
    session.expire_all()
    assert provider_user.provider.submitted_at is None


def test_stale_version_is_refused(client, auth, session, provider_user):
    auth.login(provider_user)
    response = client.post(
        "/provider/application",
        data={
            "version": "999",
            "contact_name": "王五",
            "contact_phone": "0871-1",
            "contact_email": "w@example.cn",
        },
    )
    assert response.status_code == 412
    session.expire_all()
    assert provider_user.provider.contact_name != "王五"


def test_a_disguised_executable_is_rejected_and_nothing_is_stored(
    client, auth, session, provider_user, tmp_path
):
    auth.login(provider_user)
    response = client.post(
        "/provider/application/documents",
        data={"kind": "business_licence", "file": (io.BytesIO(ELF), "licence.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "executable (ELF)" in _text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(ProviderDocument)) == 0
    uploads = tmp_path / "uploads" / "providers"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_an_oversized_upload_is_rejected(make_app, session, create_user, create_provider, tmp_path):
    app = make_app(MAX_UPLOAD_BYTES="2048")
    client = app.test_client()
    user = create_user(Role.PROVIDER, provider=create_provider(status=ProviderStatus.PENDING))
    client.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
    response = client.post(
        "/provider/application/documents",
        data={"kind": "other", "file": (io.BytesIO(PDF + b"0" * 2048), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "2 KB" in _text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(ProviderDocument)) == 0


def test_documents_are_served_only_to_their_provider_and_administrators(
    client, auth, session, create_user, provider_user, upload_provider_document, app
):
    # The fixture stores under its own directory; serve from the app's upload directory.
    from providers.documents import DocumentStorage

    storage = DocumentStorage.from_settings(app.config["SETTINGS"])
    document = upload_provider_document(provider_user.provider, filename="执照.pdf")
    target = storage.path_for(document.stored_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(PDF)
    url = f"/provider/documents/{document.id}"

    assert client.get(url).status_code == 302
    auth.login(provider_user)
    response = client.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response.headers["Content-Disposition"]
    auth.logout()

    auth.login(create_user(Role.PROVIDER))
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(create_user(Role.AUDITOR))
    admin_url = f"/admin/providers/{provider_user.provider_id}/documents/{document.id}"
    assert client.get(admin_url).status_code == 200
    assert (
        client.get(
            f"/admin/providers/{provider_user.provider_id + 999}/documents/{document.id}"
        ).status_code
        == 404
    )


def test_services_and_instrument_listings_from_the_portal(
    client, auth, session, create_user, create_provider
):
    provider = create_provider(service_categories=["testing", "instrument_sharing"])
    user = create_user(Role.PROVIDER, provider=provider)
    auth.login(user)
    response = client.post(
        "/provider/services/new",
        data={
            "title": "扫描电镜 SEM 机时共享",
            "category": "instrument_sharing",
            "description": "场发射扫描电子显微镜，配能谱仪。",
            "pricing": "fixed",
            "price": "",
            "unit": "",
            "lead_time_days": "3",
            "instrument_name": "场发射扫描电子显微镜",
            "model": "JSM-7610F",
            "manufacturer": "JEOL",
            "location": "昆明市呈贡区大学城B201",
            "hourly_rate": "600",
        },
    )
    assert response.status_code == 302, _text(response)
    service = session.scalar(sa.select(Service).where(Service.provider_id == provider.id))
    assert (service.price_fen, service.instrument.model) == (60_000, "JSM-7610F")

    listed = client.get("/catalogue/?q=SEM+扫描电镜")
    assert "扫描电镜 SEM 机时共享" in _text(listed)

    response = client.post(
        f"/provider/services/{service.id}/edit",
        data={
            "version": "1",
            "title": "材料检测服务",
            "category": "testing",
            "description": "金属材料力学性能检测。",
            "pricing": "fixed",
            "price": "800.50",
            "unit": "样品",
            "lead_time_days": "7",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert (service.title, service.price_fen, service.instrument) == ("材料检测服务", 80_050, None)

    assert client.post(f"/provider/services/{service.id}/toggle").status_code == 302
    session.expire_all()
    assert not service.is_active
    assert "材料检测服务" not in _text(client.get("/catalogue/?q=检测"))

    response = client.post(
        "/provider/services/new",
        data={
            "title": "x",
            "category": "audit",
            "description": "短",
            "pricing": "fixed",
            "price": "abc",
            "unit": "项",
            "lead_time_days": "0",
        },
    )
    assert response.status_code == 400


def test_another_providers_service_is_not_found(client, auth, create_user, create_service):
    service = create_service()
    auth.login(create_user(Role.PROVIDER))
    assert client.get(f"/provider/services/{service.id}/edit").status_code == 404
    assert client.post(f"/provider/services/{service.id}/toggle").status_code == 404


def test_related_party_declaration_from_the_portal(client, auth, session, provider_user):
    auth.login(provider_user)
    response = client.post(
        "/provider/related-parties",
        data={"credit_code": "91530102MA6N0001", "name": "关联公司", "relation": "subsidiary"},
    )
    assert response.status_code == 422
    assert "18" in _text(response)
    code = unique_credit_code()
    response = client.post(
        "/provider/related-parties",
        data={"credit_code": code, "name": "关联公司", "relation": "subsidiary", "note": ""},
    )
    assert response.status_code == 302
    declaration = session.scalar(sa.select(RelatedParty))
    assert declaration.credit_code == code
    response = client.post(
        f"/provider/related-parties/{declaration.id}/withdraw", data={"withdraw-reason": ""}
    )
    session.expire_all()
    assert declaration.withdrawn_at is None
    client.post(
        f"/provider/related-parties/{declaration.id}/withdraw",
        data={"withdraw-reason": "股权转让"},
    )
    session.expire_all()
    assert declaration.withdrawal_reason == "股权转让"


def test_documents_page_lists_uploads(client, auth, provider_user, upload_provider_document):
    upload_provider_document(
        provider_user.provider,
        DocumentKind.CMA_CERTIFICATE,
        filename="cma.pdf",
        expires_on=TODAY + timedelta(days=3650),
    )
    auth.login(provider_user)
    assert "cma.pdf" in _text(client.get("/provider/application/documents"))


def test_nul_characters_in_forms_are_refused(client, auth, session, provider_user):
    auth.login(provider_user)
    response = client.post(
        "/provider/related-parties",
        data={"credit_code": unique_credit_code(), "name": "关联\x00公司", "relation": "other"},
    )
    assert response.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(RelatedParty)) == 0


def _admitted_form(provider, **overrides):
    data = {
        "version": str(provider.version),
        "accreditation_level": provider.accreditation_level.value,
        "description": provider.description or "",
        "contact_name": provider.contact_name,
        "contact_phone": provider.contact_phone,
        "contact_email": provider.contact_email,
        "bank_account_name": provider.bank_account_name,
        "bank_name": provider.bank_name,
        "bank_account_number": provider.bank_account_number,
    }
    data.update(overrides)
    return data


def test_an_admitted_provider_asks_finance_to_approve_a_new_account(
    client, auth, session, provider_stages, create_user
):
    provider = provider_stages.admitted()
    auth.login(create_user(Role.PROVIDER, provider=provider))
    page = _text(client.get("/provider/application?lang=en"))
    # The categories are shown, not offered for change.
    assert 'data-testid="admitted-categories"' in page
    assert 'name="service_categories"' not in page
    assert "a new account takes effect only after a finance officer approves it" in page
    live = provider.bank_account_number

    response = client.post(
        "/provider/application?lang=en",
        data=_admitted_form(
            provider, bank_name="中国建设银行昆明分行", bank_account_number="6222021100001234567"
        ),
    )
    assert response.status_code == 302
    flashed = _text(client.get(response.headers["Location"]))
    assert "awaits approval by a finance officer" in flashed
    session.expire_all()
    assert provider.bank_account_number == live  # payouts still go to the approved account
    assert provider.service_categories == ["testing", "instrument_sharing"]
    (change,) = session.scalars(sa.select(BankAccountChange)).all()
    assert change.bank_account_number == "6222021100001234567"
    assert change.status is BankChangeStatus.PENDING
    page = _text(client.get("/provider/application?lang=en"))
    assert 'data-testid="pending-bank-change"' in page and "6222 **** **** 4567" in page

    wrong = client.post(
        "/provider/application?lang=en",
        data=_admitted_form(provider, bank_account_name="某某贸易有限公司"),
    )
    assert wrong.status_code == 422
    assert "registered name" in _text(wrong)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(BankAccountChange)) == 1


def test_an_admitted_providers_categories_cannot_be_posted_either(
    client, auth, session, provider_stages, create_user
):
    provider = provider_stages.admitted()
    auth.login(create_user(Role.PROVIDER, provider=provider))
    response = client.post(
        "/provider/application",
        data=_admitted_form(provider, service_categories=["audit"], address="昆明市呈贡区"),
    )
    assert response.status_code == 302  # the other fields are saved …
    session.expire_all()
    assert provider.address == "昆明市呈贡区"
    assert provider.service_categories == ["testing", "instrument_sharing"]  # … these are not
