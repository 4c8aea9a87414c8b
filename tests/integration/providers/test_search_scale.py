"""Search that does not grow with its matches (issue 16): the gram index serves 1- and
2-character Chinese terms and mixed terms on PostgreSQL, keyword searches rank a bounded
candidate set (the newest matches), and counts stop at a cap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.enums import ServiceCategory
from marketplace.web.catalogue import views
from providers import search
from providers.enums import ProviderStatus
from providers.models import Service
from providers.search import (
    SearchCriteria,
    SortOrder,
    query_terms,
    search_page,
    search_services,
    term_grams,
)


def test_term_grams_are_characters_pairs_and_safe_only():
    assert term_grams("检测") == ["检测"]
    assert term_grams("检") == ["检"]
    assert term_grams("专利代理") == ["专利", "代理", "利代"]
    assert term_grams("CNAS") == ["as", "cn", "na"]  # lower-cased like the database's lower()
    # Only pairs of Chinese characters or ASCII letters/digits: others' case folding may differ.
    assert term_grams("L-1234") == ["12", "23", "34"]
    assert term_grams("é") == []


@pytest.fixture
def services(create_provider, create_service):
    centre = create_provider(name="云南省电子产品检验所")
    ip = create_provider(name="昆明知信专利代理事务所")
    made = {
        "emc": create_service(centre, title="电磁兼容 EMC 测试", description="CNAS 认可实验室"),
        "检测": create_service(centre, title="金属材料检测", description="CNAS L1234 认可"),
        "检": create_service(centre, title="来料检验", description="抽样检验。"),
        "专利": create_service(
            ip, title="专利代理", category=ServiceCategory.IP, description="发明专利申请代理"
        ),
        "other": create_service(centre, title="设备租赁", description="仪器共享"),
    }
    return made


def _titles(session, q: str) -> set[str]:
    page = search_services(session, SearchCriteria(q=q), limit=50)
    return {s.title for s in page.items}


@pytest.mark.parametrize(
    ("q", "certain"),
    [
        ("金属", {"金属材料检测"}),
        ("料", {"金属材料检测", "来料检验"}),
        ("专利代理", {"专利代理"}),
        ("CNAS 金属", {"金属材料检测"}),
        ("cnas", {"电磁兼容 EMC 测试", "金属材料检测"}),
        ("电磁兼容 EMC", {"电磁兼容 EMC 测试"}),
        ("磁兼", {"电磁兼容 EMC 测试"}),
        ("L1234", {"金属材料检测"}),
        ("1234", {"金属材料检测"}),  # digits only: tested without lower-casing the text
        ("l1234", {"金属材料检测"}),
        ("Emc 测", {"电磁兼容 EMC 测试"}),  # the letters in any case
        ("租", {"设备租赁"}),
    ],
)
def test_short_and_mixed_terms_find_exactly_the_services_containing_them(
    session, services, q, certain
):
    """Exactly the services whose search text contains every term (the substring rule the
    gram index must never narrow further), among them the ones named."""
    terms = [t.lower() for t in query_terms(q)]
    oracle = {s.title for s in services.values() if all(t in s.search_text.lower() for t in terms)}
    assert certain <= oracle and oracle != {s.title for s in services.values()}
    assert _titles(session, q) == oracle


def test_counts_stop_at_the_cap_and_only_the_newest_candidates_are_ranked(
    session, create_provider, create_service, monkeypatch
):
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    provider = create_provider()
    made = [create_service(provider, title=f"环境检测{n}") for n in range(5)]
    # The oldest has the term in its title twice over (more relevant), but is not a candidate.
    made[0].title = "环境检测 检测"
    session.flush()
    items, total = search_page(session, SearchCriteria(q="检测"), per_page=10)
    assert total == 4  # COUNT_CAP + 1: "more than 3"
    assert sorted(s.id for s in items) == sorted(s.id for s in made[2:])
    page = search_services(session, SearchCriteria(q="检测", sort=SortOrder.NEWEST), limit=10)
    assert [s.id for s in page.items] == [s.id for s in reversed(made[2:])]
    # Browsing without keywords is not cut.
    assert search_page(session, SearchCriteria(provider_id=provider.id), per_page=10)[1] == 4


def test_filters_apply_to_every_match_not_to_a_window_of_others(
    session, create_provider, create_service, monkeypatch
):
    """A filtered keyword search takes its candidates among the filtered services: an older
    match of the chosen provider is found although newer matches fill the window."""
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 2)
    chosen, other = create_provider(), create_provider()
    older = create_service(chosen, title="土壤检测")
    for n in range(3):
        create_service(other, title=f"土壤检测{n}")
    session.flush()
    criteria = SearchCriteria(q="土壤", provider_id=chosen.id)
    assert [s.id for s in search_services(session, criteria).items] == [older.id]
    assert search_page(session, criteria)[1] == 1
    # Without the filter, the window is the newest two.
    assert older.id not in {s.id for s in search_services(session, SearchCriteria(q="土壤")).items}


def test_the_catalogue_page_says_more_than_the_cap(
    client, session, create_provider, create_service, monkeypatch
):
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 2)
    monkeypatch.setattr(views, "COUNT_CAP", 2)
    provider = create_provider()
    for n in range(3):
        create_service(provider, title=f"水质检测{n}")
    session.flush()
    page = client.get("/catalogue/?q=水质检测")
    assert page.status_code == 200
    assert "找到超过 2 项服务" in page.get_data(as_text=True)


#: The search terms issue 16 names: 1–4 characters, Chinese and mixed with Latin.
PLANNED_TERMS = ("检", "检测", "电磁兼", "专利代理", "CNAS 检测", "电磁兼容 EMC", "环境", "磁兼")


@contextmanager
def _sent(connection: sa.Connection) -> Iterator[list[tuple[str, Any]]]:
    """Every (statement, parameters) the code sends on ``connection``."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)


def test_postgresql_plans_of_every_search_statement_read_services_through_an_index(
    session, backend, create_provider, create_service, monkeypatch
):
    """No statement a keyword search sends reads services by a sequential scan: with
    sequential scans priced out, the planner would still show one (at a prohibitive cost) if
    no index could answer it. The statements are the ones the search really sends (the id
    bounds, the walked windows of the newest ids, the gram-index stage for older ids, the
    page's rows), each EXPLAINed with its own parameters. The keyword stage on its own is
    answered by the gram index for every term, 1–4 characters and mixed. Which index the
    planner prefers at 4,000 services is its call; `make bench` measures at 100,000."""
    if backend != "postgresql":
        # SQLite has no gram index: its trigram FTS5 table serves terms of 3+ characters.
        assert session.get_bind().dialect.name == "sqlite"
        return
    provider = create_provider()
    template = create_service(provider, title="模板服务")
    session.flush()
    titles = ["环境检测", "材料分析", "专利代理", "技术咨询", "电磁兼容 EMC 测试"]
    session.execute(
        sa.text(
            "INSERT INTO services (provider_id, title, category, description, pricing,"
            " price_fen, unit, lead_time_days, is_active, search_text, version, rating_count,"
            " rating_total, rating_avg_x100, created_at, updated_at)"
            " SELECT provider_id, :t || n, category, description, pricing, price_fen, unit,"
            " lead_time_days, is_active, :t || n || ' ' || search_text, version, rating_count,"
            " rating_total, rating_avg_x100, created_at, updated_at"
            " FROM services, generate_series(1, 800) AS n WHERE services.id = :id"
        ),
        [{"t": t, "id": template.id} for t in titles],
    )
    session.execute(sa.text("ANALYZE services"))
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    connection = session.connection()
    # Small windows, so every search sends both stages: windows, then the gram index.
    monkeypatch.setattr(search, "WALKED_WINDOWS", (256, 512))
    for q in PLANNED_TERMS:
        for sort in (SortOrder.RELEVANCE, SortOrder.PRICE_ASC):
            with _sent(connection) as sent:
                search_page(session, SearchCriteria(q=q, sort=sort))
            searched = [(s, p) for s, p in sent if "services" in s]
            # The bounds, the two windows, the gram-index stage (the page may be empty).
            assert len(searched) >= 4, sent
            for statement, parameters in searched:
                plan = "\n".join(
                    connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()
                )
                assert "Seq Scan on services" not in plan, (q, statement, plan)
        # The keyword stage on its own is answered by an index: the gram index for terms of
        # one or two characters, which the trigram index cannot serve; for longer ones either
        # (the planner's choice, which varies with ANALYZE's sample).
        terms = query_terms(q)
        keywords = sa.select(Service.id).where(
            *search._keyword_filters(session, terms, date.today())
        )
        compiled = keywords.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
        assert "Seq Scan on services" not in plan, plan
        if all(len(t) < search.MIN_TRIGRAM_TERM for t in terms):
            assert "ix_services_search_grams" in plan, plan
        else:
            assert "ix_services_search_grams" in plan or search.TRGM_INDEX in plan, plan


def test_the_newest_ids_are_walked_first_and_older_matches_come_from_the_index(
    session, create_provider, create_service, monkeypatch
):
    """The candidate stage walks the newest ids in windows, then asks the index for the
    older ones: the newest matches win however they are spread, and a match older than the
    windows is still found (by the gram index on PostgreSQL, FTS/LIKE on SQLite)."""
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    monkeypatch.setattr(search, "WALKED_WINDOWS", (2, 2))
    provider = create_provider()
    oldest = create_service(provider, title="高原水质检测")
    older = create_service(provider, title="高原水质检测二")
    filler = [create_service(provider, title=f"设备租赁{n}") for n in range(4)]
    newest = create_service(provider, title="高原水质检测三")
    session.flush()
    assert filler  # four non-matching services between the old matches and the newest
    page = search_services(session, SearchCriteria(q="高原水质", sort=SortOrder.NEWEST))
    assert [s.id for s in page.items] == [newest.id, older.id, oldest.id]
    # A mixed term: each word in its own way (one in the text, one through the provider).
    page = search_services(session, SearchCriteria(q="水质 检测三", sort=SortOrder.NEWEST))
    assert [s.id for s in page.items] == [newest.id]


def test_candidates_are_the_newest_listed_matches_ranked_by_title_hits(
    session, create_provider, create_service, monkeypatch
):
    """The bounded candidate set holds listed services only: unlisted newer matches (a
    provider in review, a service taken down, a category the provider was not admitted with)
    take no place in it, so the count and the pages are of what can be shown. Within it the
    ranking is by the terms found in the title, newest first among equals."""
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    monkeypatch.setattr(search, "WALKED_WINDOWS", (2, 2))
    lab = create_provider()
    oldest = create_service(lab, title="仪器维护", description="高原环境 水质 检测")
    both = create_service(lab, title="高原水质检测")
    one = create_service(lab, title="水质采样", description="高原")
    pending = create_provider(status=ProviderStatus.PENDING)
    create_service(pending, title="高原水质检测 待审")
    create_service(lab, title="高原水质检测 下架", is_active=False)
    outside = create_service(lab, title="高原水质检测 审计", category=ServiceCategory.AUDIT)
    lab.service_categories = [c for c in lab.service_categories if c != "audit"]
    session.flush()
    assert outside.category is ServiceCategory.AUDIT
    items, total = search_page(session, SearchCriteria(q="高原 水质"), per_page=10)
    assert [s.id for s in items] == [both.id, one.id, oldest.id]
    assert total == search.COUNT_CAP + 1  # three listed candidates: the cap, so "more than"
    monkeypatch.setattr(search, "COUNT_CAP", 10)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 10)
    assert search_page(session, SearchCriteria(q="高原 水质"), per_page=10)[1] == 3


@pytest.mark.parametrize("sort", list(SortOrder))
def test_keyword_cursor_pages_visit_every_candidate_once_in_rank_order(
    session, create_provider, create_service, sort
):
    """A keyword search pages through its ranked candidates in memory: every page's cursor
    continues exactly where the last one ended, for every sort order."""
    provider = create_provider()
    for n in range(7):
        title = "土壤检测" if n % 3 == 0 else f"土壤分析{n}"
        create_service(
            provider, title=title, description="土壤 检测", price_fen=10_000 * (n % 4 + 1)
        )
    session.flush()
    criteria = SearchCriteria(q="土壤 检测", sort=sort)
    whole = [s.id for s in search_services(session, criteria, limit=50).items]
    seen: list[int] = []
    cursor = None
    while True:
        page = search_services(session, criteria, cursor=cursor, limit=2)
        seen += [s.id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == whole and len(whole) == 7
    if sort is SortOrder.RELEVANCE:
        titles = [s.title for s in search_services(session, criteria, limit=50).items]
        assert titles[:3] == ["土壤检测"] * 3
