"""The public catalogue pages: no sign-in, Chinese search, filters, pagination, credit."""

from __future__ import annotations

from marketplace.enums import InstitutionType, Role, ServiceCategory
from providers.credit import rate_service
from providers.enums import ProviderStatus


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_search_in_chinese_without_signing_in(client, create_provider, create_service):
    lab = create_provider(name="云南省产品质量监督检验研究院")
    agency = create_provider(
        name="昆明知信专利代理事务所", institution_type=InstitutionType.IP_AGENCY
    )
    create_service(lab, title="材料检测服务")
    create_service(
        agency, title="专利代理", category=ServiceCategory.IP, description="发明专利申请代理。"
    )
    page = _text(client.get("/catalogue/?q=检测"))
    # The results, not the filters (whose accreditation choices name the patent agency licence).
    results = page.split('data-testid="total"', 1)[1]
    assert "材料检测服务" in results and "专利代理" not in results
    page = _text(client.get("/catalogue/?q=专利"))
    assert "专利代理" in page and "材料检测服务" not in page
    page = _text(client.get("/catalogue/?category=ip&lang=en"))
    assert "专利代理" in page and "1 services found" in page


def test_pagination(client, create_provider, create_service):
    provider = create_provider()
    for n in range(14):
        create_service(provider, title=f"检测项目{n:02d}", price_fen=10_000 + n)
    first = _text(client.get("/catalogue/?sort=price_asc"))
    assert "检测项目00" in first and "检测项目13" not in first and 'rel="next"' in first
    second = _text(client.get("/catalogue/?sort=price_asc&page=2"))
    assert "检测项目13" in second and "检测项目00" not in second and 'rel="prev"' in second


def test_bad_filters_answer_400_with_the_form(client):
    response = client.get("/catalogue/?min_price=abc&category=nope")
    assert response.status_code == 400
    assert "e.g. 800" in _text(client.get("/catalogue/?min_price=abc&lang=en"))


def test_provider_page_shows_the_credit_score(client, session, create_service, create_enterprise):
    service = create_service(title="材料检测服务")
    rate_service(session, create_enterprise(), service, "ORD-1", 5, "专业高效")
    page = _text(client.get(f"/catalogue/providers/{service.provider_id}"))
    # mean_x100 = (5 + 20) * 100 // 6 = 416; (416 - 100) // 4 = 79
    assert 'data-testid="credit-score">79<' in page
    assert "专业高效" in page and "材料检测服务" in page


def test_unlisted_services_and_providers_are_not_found(client, create_provider, create_service):
    suspended = create_provider(status=ProviderStatus.SUSPENDED)
    service = create_service(suspended)
    assert client.get(f"/catalogue/services/{service.id}").status_code == 404
    assert client.get(f"/catalogue/providers/{suspended.id}").status_code == 404
    inactive = create_service(is_active=False)
    assert client.get(f"/catalogue/services/{inactive.id}").status_code == 404


def test_instrument_details_on_the_service_page(client, create_service):
    service = create_service(
        title="扫描电镜 SEM 机时共享",
        category=ServiceCategory.INSTRUMENT_SHARING,
        price_fen=60_000,
        unit="小时",
        instrument={
            "instrument_name": "场发射扫描电子显微镜",
            "model": "JSM-7610F",
            "location": "昆明市呈贡区大学城B201",
            "hourly_rate_fen": 60_000,
        },
    )
    page = _text(client.get(f"/catalogue/services/{service.id}"))
    assert "JSM-7610F" in page and "大学城B201" in page and "¥600.00" in page


def test_the_service_page_leads_an_enterprise_to_the_order_form(
    client, auth, create_service, create_user
):
    service = create_service(title="电磁兼容测试")
    order_form = f"/orders/new?service_id={service.id}"
    anonymous = _text(client.get(f"/catalogue/services/{service.id}"))
    assert 'data-testid="order-service"' not in anonymous
    assert "/login?next=" in anonymous and f"service_id%3D{service.id}" in anonymous

    auth.login(create_user(Role.PROVIDER))
    assert "order-service" not in _text(client.get(f"/catalogue/services/{service.id}"))
    auth.logout()

    auth.login(create_user(Role.ENTERPRISE))
    page = _text(client.get(f"/catalogue/services/{service.id}"))
    assert f'href="{order_form.replace("&", "&amp;")}"' in page
    assert client.get(order_form).status_code == 200
