"""The catalogue page and API with accreditations and places: the filter, region names down
to the county, and the service page listing the provider's qualifications with validity."""

from __future__ import annotations

from datetime import timedelta

from marketplace.clock import today
from marketplace.enums import InstitutionType
from providers.enums import QualificationKind
from providers.models import ProviderQualification


def _lab(session, create_provider, create_service, *, valid_days):
    lab = create_provider(
        name="滇中材料实验室", division="530102", institution_type=InstitutionType.KEY_LABORATORY
    )
    session.add(
        ProviderQualification(
            provider_id=lab.id,
            kind=QualificationKind.CNAS,
            number="L98765",
            valid_until=today() + timedelta(days=valid_days),
        )
    )
    session.flush()
    return create_service(lab, title="金属力学性能测试", description="拉伸、冲击试验。")


def test_service_page_shows_region_and_qualifications(
    session, client, create_provider, create_service
):
    service = _lab(session, create_provider, create_service, valid_days=30)
    page = client.get(f"/catalogue/services/{service.id}").get_data(as_text=True)
    assert "云南省昆明市五华区" in page
    assert "CNAS 实验室认可" in page and "L98765" in page and "有效期至" in page
    results = client.get("/catalogue/?q=CNAS+检测&accreditation=cnas").get_data(as_text=True)
    assert "金属力学性能测试" in results and "云南省昆明市五华区" in results
    english = client.get(f"/catalogue/services/{service.id}?lang=en").get_data(as_text=True)
    assert "valid until" in english


def test_expired_qualification_marked_and_filtered(
    session, client, create_provider, create_service
):
    service = _lab(session, create_provider, create_service, valid_days=-1)
    page = client.get(f"/catalogue/services/{service.id}").get_data(as_text=True)
    assert "已于" in page and "过期" in page
    found = client.get("/catalogue/?accreditation=cnas").get_data(as_text=True)
    assert "金属力学性能测试" not in found.split('data-testid="total"', 1)[1]
    bad = client.get("/catalogue/?accreditation=iso9001")
    assert bad.status_code == 400


def test_api_filter_and_region_name(session, client, create_provider, create_service):
    service = _lab(session, create_provider, create_service, valid_days=30)
    found = client.get("/api/v1/catalogue/services?q=CNAS 检测&accreditation=cnas").get_json()
    item = next(i for i in found["items"] if i["id"] == service.id)
    assert item["provider_region_name"] == "云南省昆明市五华区"
    assert item["provider_qualifications"][0]["kind"] == "cnas"
    assert (
        client.get("/api/v1/catalogue/services?q=五华区").get_json()["items"][0]["id"] == service.id
    )
    refused = client.get("/api/v1/catalogue/services?accreditation=iso9001")
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
