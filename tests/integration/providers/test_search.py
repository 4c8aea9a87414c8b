"""Search in Chinese on both databases: trigram matching for terms of three or more
characters, substring fallback for shorter ones, mixed Chinese/English, filters, sorting and
pagination — and only admitted providers' active services."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.enums import InstitutionType, ServiceCategory
from marketplace.errors import NotFound, ValidationFailed
from providers.catalogue import services_of
from providers.credit import rate_service
from providers.enums import PricingMode, ProviderStatus
from providers.search import (
    FTS_TABLE,
    SearchCriteria,
    SortOrder,
    public_provider,
    public_service,
    search_page,
    search_services,
)


@pytest.fixture
def catalogue(create_provider, create_service):
    testing = create_provider(name="云南省产品质量监督检验研究院", division="530102")
    ip = create_provider(
        name="昆明知信专利代理事务所", institution_type=InstitutionType.IP_AGENCY, division="530103"
    )
    platform = create_provider(
        name="曲靖市大型仪器共享平台",
        institution_type=InstitutionType.INSTRUMENT_PLATFORM,
        division="530302",
    )
    services = {
        "材料": create_service(testing, title="材料检测服务", price_fen=80_000),
        "食品": create_service(
            testing,
            title="食品安全检验",
            description="农产品与食品中农药残留、重金属检验。",
            price_fen=120_000,
        ),
        "专利": create_service(
            ip,
            title="专利代理",
            category=ServiceCategory.IP,
            description="发明、实用新型和外观设计专利申请代理。",
            price_fen=450_000,
            unit="件",
        ),
        "检索": create_service(
            ip,
            title="专利检索分析",
            category=ServiceCategory.IP,
            description="查新检索与专利导航分析报告。",
            pricing=PricingMode.QUOTE,
            unit="项",
        ),
        "SEM": create_service(
            platform,
            title="扫描电镜 SEM 机时共享",
            category=ServiceCategory.INSTRUMENT_SHARING,
            description="场发射扫描电子显微镜，含能谱分析。",
            price_fen=60_000,
            unit="小时",
            instrument={
                "instrument_name": "场发射扫描电子显微镜",
                "model": "JSM-7610F",
                "manufacturer": "JEOL",
                "location": "曲靖市麒麟区科技大厦3楼",
                "hourly_rate_fen": 60_000,
            },
        ),
    }
    return {"providers": {"testing": testing, "ip": ip, "platform": platform}, **services}


def _titles(session, **criteria):
    page = search_services(session, SearchCriteria(**criteria), limit=50)
    return [s.title for s in page.items]


def test_two_character_chinese_terms_find_services(session, catalogue):
    assert "材料检测服务" in _titles(session, q="检测")
    assert set(_titles(session, q="专利")) == {"专利代理", "专利检索分析"}


def test_longer_chinese_terms_use_the_trigram_index(session, catalogue):
    assert _titles(session, q="材料检测") == ["材料检测服务"]
    assert _titles(session, q="重金属检验") == ["食品安全检验"]
    assert _titles(session, q="不存在的服务") == []


def test_mixed_chinese_and_english_queries(session, catalogue):
    assert _titles(session, q="SEM 扫描电镜") == ["扫描电镜 SEM 机时共享"]
    assert _titles(session, q="sem扫描电镜") == ["扫描电镜 SEM 机时共享"]  # no space, any case
    assert _titles(session, q="ＳＥＭ") == ["扫描电镜 SEM 机时共享"]  # full-width letters
    assert _titles(session, q="JSM-7610F") == ["扫描电镜 SEM 机时共享"]  # instrument model
    assert _titles(session, q="SEM 专利") == []  # every term must match


def test_provider_names_and_category_labels_are_searchable(session, catalogue):
    assert set(_titles(session, q="知信")) == {"专利代理", "专利检索分析"}
    assert set(_titles(session, q="知识产权")) == {"专利代理", "专利检索分析"}


@pytest.mark.parametrize("query", ["%", "_", "100%", "检_", "\\"])
def test_like_wildcards_in_user_input_are_literal(session, catalogue, create_service, query):
    assert _titles(session, q=query) == []
    create_service(catalogue["providers"]["testing"], title="检_测 100% 合格率 C:\\报告")
    assert _titles(session, q=query) == ["检_测 100% 合格率 C:\\报告"]


def test_search_syntax_in_user_input_is_plain_text(session, catalogue):
    # Quotes separate terms; FTS5 operators and wildcards are never interpreted.
    assert _titles(session, q='"材料"检测"') == ["材料检测服务"]
    assert _titles(session, q="材料 OR 食品") == []
    assert _titles(session, q="检测服务*") == []
    assert _titles(session, q="NEAR(材料检测服务") == []
    assert _titles(session, q="材料检测服务 NOT") == []


def test_only_admitted_providers_active_services_are_found(
    session, catalogue, create_provider, create_service
):
    pending = create_provider(name="待审核检测中心", status=ProviderStatus.PENDING)
    create_service(pending, title="待审核材料检测")
    create_service(catalogue["providers"]["testing"], title="已下架材料检测", is_active=False)
    titles = _titles(session, q="检测")
    assert "待审核材料检测" not in titles and "已下架材料检测" not in titles
    catalogue["providers"]["testing"].status = ProviderStatus.SUSPENDED
    session.flush()
    assert "材料检测服务" not in _titles(session, q="检测")
    with pytest.raises(NotFound):
        public_service(session, catalogue["材料"].id)
    with pytest.raises(NotFound):
        public_provider(session, catalogue["providers"]["testing"].id)


def test_services_outside_the_admitted_categories_are_not_listed(
    session, catalogue, create_provider, create_service
):
    lab = create_provider(name="昆明审计检测中心")
    kept = create_service(lab, title="类别内材料检测")
    dropped = create_service(lab, title="类别外专项审计检测", category=ServiceCategory.AUDIT)
    assert {"类别内材料检测", "类别外专项审计检测"} <= set(_titles(session, q="检测"))
    # The provider was admitted with testing only (audit was dropped before admission).
    lab.service_categories = ["testing"]
    session.flush()
    titles = _titles(session, q="检测")
    assert "类别内材料检测" in titles and "类别外专项审计检测" not in titles
    assert _titles(session, category=ServiceCategory.AUDIT) == []
    assert public_service(session, kept.id).id == kept.id
    with pytest.raises(NotFound):
        public_service(session, dropped.id)
    assert [s.id for s in services_of(session, lab.id, active_only=True)] == [kept.id]
    assert {s.id for s in services_of(session, lab.id)} == {kept.id, dropped.id}


def test_search_index_follows_updates_and_deletes(session, catalogue):
    service = catalogue["材料"]
    service.search_text = "土壤检测\n" + service.provider.name
    session.flush()
    assert _titles(session, q="土壤检测") == ["材料检测服务"]
    assert _titles(session, q="材料检测") == []
    session.delete(service)
    session.flush()
    assert _titles(session, q="土壤检测") == []


def test_filters(session, catalogue):
    assert set(_titles(session, category=ServiceCategory.IP)) == {"专利代理", "专利检索分析"}
    assert _titles(session, institution_type=InstitutionType.INSTRUMENT_PLATFORM) == [
        "扫描电镜 SEM 机时共享"
    ]
    assert _titles(session, region="5303") == ["扫描电镜 SEM 机时共享"]
    assert set(_titles(session, region="5301")) == {
        "材料检测服务",
        "食品安全检验",
        "专利代理",
        "专利检索分析",
    }
    assert set(_titles(session, min_price_fen=70_000, max_price_fen=130_000)) == {
        "材料检测服务",
        "食品安全检验",
    }
    assert _titles(session, q="专利", max_price_fen=10**9) == ["专利代理"]  # quotes have no price


def test_rating_filter_and_sort(session, catalogue, create_enterprise):
    enterprise = create_enterprise()
    rate_service(session, enterprise, catalogue["专利"], "ORD-1", 5, "专业")
    rate_service(session, enterprise, catalogue["材料"], "ORD-2", 3, None)
    assert _titles(session, min_rating=4) == ["专利代理"]
    assert _titles(session, sort=SortOrder.RATING)[:2] == ["专利代理", "材料检测服务"]


def test_price_sorting_puts_quotes_last(session, catalogue):
    ascending = _titles(session, sort=SortOrder.PRICE_ASC)
    assert ascending == [
        "扫描电镜 SEM 机时共享",
        "材料检测服务",
        "食品安全检验",
        "专利代理",
        "专利检索分析",
    ]
    descending = _titles(session, sort=SortOrder.PRICE_DESC)
    assert descending == [
        "专利代理",
        "食品安全检验",
        "材料检测服务",
        "扫描电镜 SEM 机时共享",
        "专利检索分析",
    ]


def test_relevance_ranks_title_matches_first(session, catalogue, create_service):
    create_service(
        catalogue["providers"]["testing"],
        title="技术咨询",
        category=ServiceCategory.TESTING,
        description="附带专利风险提示。",
    )
    titles = _titles(session, q="专利")
    assert set(titles[:2]) == {"专利代理", "专利检索分析"} and titles[2] == "技术咨询"


@pytest.mark.parametrize("sort", list(SortOrder))
def test_cursor_pagination_visits_every_match_once(session, catalogue, sort):
    seen = []
    cursor = None
    while True:
        page = search_services(session, SearchCriteria(sort=sort), cursor=cursor, limit=2)
        seen += [s.id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [s.id for s in search_services(session, SearchCriteria(sort=sort), limit=50).items]
    assert seen == expected and len(seen) == 5


def test_numbered_pages_and_totals(session, catalogue):
    first, total = search_page(session, SearchCriteria(sort=SortOrder.NEWEST), page=1, per_page=2)
    third, _ = search_page(session, SearchCriteria(sort=SortOrder.NEWEST), page=3, per_page=2)
    assert total == 5 and len(first) == 2 and len(third) == 1
    assert first[0].title == "扫描电镜 SEM 机时共享"


def test_bad_filters_and_cursors_are_refused(session, catalogue):
    # An empty price range is no error: nothing costs between 10 and 5 fen.
    assert search_services(session, SearchCriteria(min_price_fen=10, max_price_fen=5)).items == []
    with pytest.raises(ValidationFailed):
        search_services(session, SearchCriteria(region="5"))
    with pytest.raises(ValidationFailed):
        search_services(session, SearchCriteria(), cursor="not-a-cursor")
    page = search_services(session, SearchCriteria(sort=SortOrder.PRICE_ASC), limit=1)
    with pytest.raises(ValidationFailed):  # a cursor belongs to its sort order
        search_services(session, SearchCriteria(sort=SortOrder.RATING), cursor=page.next_cursor)


def test_long_terms_are_served_by_the_trigram_index(session, catalogue, database):
    if database.backend == "postgresql":
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = (
            session.execute(
                sa.text("EXPLAIN SELECT id FROM services WHERE search_text LIKE '%sem%'")
            )
            .scalars()
            .all()
        )
        assert any("ix_services_search_text_trgm" in line for line in plan)
    else:
        plan = session.execute(
            sa.text(f"EXPLAIN QUERY PLAN SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q"),
            {"q": '"扫描电镜"'},
        ).all()
        assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
