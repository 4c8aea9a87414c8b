"""Search and browse the public catalogue — in Chinese, which has no spaces between words.

Splitting on white space finds nothing in 材料检测服务, so matching is by substring, made fast
by trigram indexes over ``services.search_text`` (title, provider, category labels,
description, instrument details):

* **PostgreSQL**: ``pg_trgm`` and a GIN index ``gin_trgm_ops`` on ``search_text``; each term is
  an ``ILIKE '%term%'``, which that index serves for terms of three or more characters.
  (pg_trgm takes CJK characters as word characters only when the database's LC_CTYPE is a
  UTF-8 locale, e.g. ``C.UTF-8`` or ``zh_CN.UTF-8``; under the ``C`` locale the same query is
  still correct, only not index-assisted.)
* **SQLite**: an FTS5 table with the ``trigram`` tokenizer (``services_fts``, external
  content, kept in step with ``services`` by triggers created in migration 0003); terms of
  three or more characters go through ``MATCH``.

A trigram index cannot answer a term shorter than three characters — and 检测 or 专利 are two —
so those terms fall back to ``LIKE`` / ``ILIKE`` substring matching (with ``%`` and ``_`` in
the user's input escaped). A query is cut into terms at white space and punctuation and at every
switch between Chinese and other scripts ("SEM扫描电镜" → SEM, 扫描电镜); a service matches when
it contains every term.

A term also matches a service through its **provider**: a valid qualification (CMA, CNAS …)
whose kind the term names ("CNAS", "资质认定"), whose number or accredited scope contains it —
so 'CNAS 检测' finds the testing services of CNAS-accredited labs whose own text never says
CNAS, and a qualification past its ``valid_until`` stops matching — or the name of the
division the provider is registered in, down to the county (五华 → 530102, through the one
GB/T 2260 table, :mod:`marketplace.regions`).

Only active services of admitted providers, in a category the provider was admitted with, are
ever returned.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager, selectinload

from marketplace import clock, regions
from marketplace.enums import InstitutionType, LabelledEnum, ServiceCategory
from marketplace.errors import NotFound, ValidationFailed
from providers.enums import ParticipationStatus, ProviderStatus, QualificationKind
from providers.models import ProgrammeParticipation, Provider, ProviderQualification, Service
from vouchers.models import Programme

#: Created by migration 0003, outside the models; migrations/filters.py hides both from the
#: drift comparison.
FTS_TABLE = "services_fts"
TRGM_INDEX = "ix_services_search_text_trgm"
MIN_TRIGRAM_TERM = 3
MAX_TERMS = 8
MAX_TERM_LENGTH = 40
MAX_QUERY_LENGTH = 200
#: A division-code prefix: "53" Yunnan, "5301" Kunming, "530102" one district.
REGION_INPUT = r"^[0-9]{2}([0-9]{2}){0,2}$"

#: Words that name an accreditation in a query. A term contained in one of them ("CNAS",
#: "cma", "认可") matches providers holding a valid qualification of that kind. Deliberately
#: not the kinds' long labels: 检验检测机构资质认定 contains 检测, which must keep meaning the
#: service, not every CMA laboratory.
ACCREDITATION_WORDS: dict[QualificationKind, tuple[str, ...]] = {
    QualificationKind.CMA: ("cma", "资质认定"),
    QualificationKind.CNAS: ("cnas", "实验室认可"),
    QualificationKind.PATENT_AGENCY: ("专利代理",),
}
#: A region name term matches at most this many divisions (市 or 县 alone would match
#: thousands and mean nothing).
MAX_REGION_MATCHES = 40
MIN_REGION_TERM = 2

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TERM = re.compile(rf"[{_CJK}]+|[^\s{_CJK}]+")
_SEPARATORS = re.compile(r"[\s,;:!?()\[\]{}<>\"'`，。、；：！？（）【】《》“”‘’·…]+")


def query_terms(query: str) -> list[str]:
    """The terms of a user's query (see the module docstring), at most MAX_TERMS."""
    text = unicodedata.normalize("NFKC", query or "")[:MAX_QUERY_LENGTH]
    # Control characters (NUL above all) are never part of a term.
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    terms: list[str] = []
    for chunk in _SEPARATORS.split(text):
        for term in _TERM.findall(chunk):
            term = term[:MAX_TERM_LENGTH]
            if term and term.lower() not in (t.lower() for t in terms):
                terms.append(term)
    return terms[:MAX_TERMS]


class SortOrder(LabelledEnum):
    RELEVANCE = "relevance", "综合排序", "Best match"
    NEWEST = "newest", "最新发布", "Newest"
    PRICE_ASC = "price_asc", "价格从低到高", "Price, low to high"
    PRICE_DESC = "price_desc", "价格从高到低", "Price, high to low"
    RATING = "rating", "评分最高", "Best rated"
    CREDIT = "credit", "信用最高", "Highest credit score"


@dataclass(frozen=True)
class SearchCriteria:
    q: str = ""
    category: ServiceCategory | None = None
    institution_type: InstitutionType | None = None
    #: A division-code prefix: "53" Yunnan, "5301" Kunming, "530102" one district.
    region: str | None = None
    min_price_fen: int | None = None
    max_price_fen: int | None = None
    #: Minimum average stars (1–5) of the service's ratings.
    min_rating: int | None = None
    programme_id: int | None = None
    provider_id: int | None = None
    #: Only providers holding a valid qualification of this kind.
    accreditation: QualificationKind | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    #: The day validity is judged on (Beijing); today when not given.
    today: date | None = None

    def validate(self) -> SearchCriteria:
        """Raises ValidationFailed for filters that cannot be meant."""
        errors: dict[str, list[str]] = {}
        if self.region is not None and not re.match(REGION_INPUT, self.region):
            errors["region"] = ["2、4或6位行政区划码 / a 2-, 4- or 6-digit division code"]
        if self.min_rating is not None and not 1 <= self.min_rating <= 5:
            errors["min_rating"] = ["1–5"]
        for name in ("min_price_fen", "max_price_fen"):
            value = getattr(self, name)
            if value is not None and value < 0:
                errors[name] = ["不能为负 / must not be negative"]
        if errors:
            raise ValidationFailed("搜索条件有误 / invalid search filters", errors)
        return self


_QUOTE_LAST_ASC = 2**62


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def kinds_named(term: str) -> list[QualificationKind]:
    """The accreditation kinds a query term names (see :data:`ACCREDITATION_WORDS`)."""
    needle = term.casefold()
    return [k for k, words in ACCREDITATION_WORDS.items() if any(needle in w for w in words)]


def region_prefixes(term: str) -> list[str]:
    """Division-code prefixes of the divisions whose name contains ``term`` (a prefecture's
    prefix covers its counties), or none for short or over-broad terms."""
    if len(term) < MIN_REGION_TERM or not any("\u4e00" <= ch <= "\u9fff" for ch in term):
        return []
    codes = regions.codes_matching(term)
    if not codes or len(codes) > MAX_REGION_MATCHES:
        return []
    prefixes = sorted({c[:2] if c[2:] == "0000" else c[:4] if c[4:] == "00" else c for c in codes})
    return [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]


def valid_qualification(today: date) -> sa.ColumnElement[bool]:
    """SQL for "this qualification of the service's provider is valid on ``today``"."""
    return sa.and_(
        ProviderQualification.provider_id == Service.provider_id,
        sa.or_(
            ProviderQualification.valid_until.is_(None),
            ProviderQualification.valid_until >= today,
        ),
    )


def _provider_filter(term: str, today: date) -> sa.ColumnElement[bool]:
    """How ``term`` matches a service through its provider (accreditation or place)."""
    matches: list[sa.ColumnElement[bool]] = []
    accredited = [
        ProviderQualification.number.icontains(term, autoescape=True),
        ProviderQualification.scope.icontains(term, autoescape=True),
    ]
    kinds = kinds_named(term)
    if kinds:
        accredited.append(ProviderQualification.kind.in_(kinds))
    matches.append(sa.exists().where(valid_qualification(today), sa.or_(*accredited)))
    prefixes = region_prefixes(term)
    if prefixes:
        matches.append(sa.or_(*(Provider.region_code.startswith(p) for p in prefixes)))
    return sa.or_(*matches)


def _keyword_filters(session: Session, terms: list[str], today: date) -> list[Any]:
    """One filter per term: the service's own text, or its provider (:func:`_provider_filter`)."""
    if not terms:
        return []
    sqlite = _dialect(session) == "sqlite"
    filters: list[Any] = []
    for term in terms:
        if sqlite and len(term) >= MIN_TRIGRAM_TERM:
            fts: sa.Select[Any] = (
                sa.select(sa.literal_column("rowid"))
                .select_from(sa.table(FTS_TABLE))
                .where(
                    sa.text(f"{FTS_TABLE} MATCH :fts_{len(filters)}").bindparams(
                        sa.bindparam(f"fts_{len(filters)}", _fts_phrase(term))
                    )
                )
            )
            own: Any = Service.id.in_(fts)
        else:
            # PostgreSQL: ILIKE, served by the GIN trigram index for terms of 3+ characters;
            # SQLite: terms too short for the trigram tokenizer.
            own = Service.search_text.icontains(term, autoescape=True)
        filters.append(sa.or_(own, _provider_filter(term, today)))
    return filters


def _sort_key(criteria: SearchCriteria, terms: list[str]) -> tuple[Any, bool]:
    """(integer sort expression, descending)."""
    sort = criteria.sort
    if sort is SortOrder.RELEVANCE and terms:
        hits = [sa.case((Service.title.icontains(t, autoescape=True), 1), else_=0) for t in terms]
        expr: Any = hits[0]
        for hit in hits[1:]:
            expr = expr + hit
        return expr, True
    if sort is SortOrder.NEWEST:
        return Service.id, True
    if sort is SortOrder.PRICE_ASC:
        return sa.func.coalesce(Service.price_fen, _QUOTE_LAST_ASC), False
    if sort is SortOrder.PRICE_DESC:
        return sa.func.coalesce(Service.price_fen, -1), True
    if sort is SortOrder.RATING:
        return Service.rating_avg_x100, True
    # CREDIT, and RELEVANCE without keywords: the most trustworthy providers first.
    return Provider.credit_score, True


def category_admitted() -> sa.ColumnElement[bool]:
    """SQL for "the service's category is one its provider was admitted with".

    ``service_categories`` is a JSON array of category values (lower-case ASCII), so the
    quoted value occurring in its text is the same test on SQLite and PostgreSQL, without
    dialect-specific JSON operators.
    """
    quoted = sa.literal('"') + sa.cast(Service.category, sa.String) + sa.literal('"')
    return sa.cast(Provider.service_categories, sa.Text).contains(quoted)


def listed_services() -> sa.Select[Any]:
    """Active services of admitted providers, in a category the provider was admitted with —
    the only ones anyone may find or order (providers.related.ensure_orderable)."""
    return (
        sa.select(Service)
        .join(Provider, Provider.id == Service.provider_id)
        .where(
            Service.is_active.is_(True),
            Provider.status == ProviderStatus.ADMITTED,
            category_admitted(),
        )
    )


def _filtered(session: Session, criteria: SearchCriteria) -> tuple[sa.Select[Any], list[str]]:
    criteria.validate()
    terms = query_terms(criteria.q)
    today = criteria.today or clock.today()
    stmt = listed_services().where(*_keyword_filters(session, terms, today))
    if criteria.category is not None:
        stmt = stmt.where(Service.category == criteria.category)
    if criteria.institution_type is not None:
        stmt = stmt.where(Provider.institution_type == criteria.institution_type)
    if criteria.region:
        stmt = stmt.where(Provider.region_code.startswith(criteria.region))
    if criteria.min_price_fen is not None:
        stmt = stmt.where(Service.price_fen >= criteria.min_price_fen)
    if criteria.max_price_fen is not None:
        stmt = stmt.where(Service.price_fen <= criteria.max_price_fen)
    if criteria.min_rating is not None:
        stmt = stmt.where(Service.rating_avg_x100 >= criteria.min_rating * 100)
    if criteria.provider_id is not None:
        stmt = stmt.where(Service.provider_id == criteria.provider_id)
    if criteria.accreditation is not None:
        stmt = stmt.where(
            sa.exists().where(
                valid_qualification(today),
                ProviderQualification.kind == criteria.accreditation,
            )
        )
    if criteria.programme_id is not None:
        programme = session.get(Programme, criteria.programme_id)
        categories = list(programme.eligible_categories or []) if programme else []
        stmt = stmt.where(
            Service.category.in_([ServiceCategory(c) for c in categories]),
            sa.exists().where(
                ProgrammeParticipation.provider_id == Provider.id,
                ProgrammeParticipation.programme_id == criteria.programme_id,
                ProgrammeParticipation.status == ParticipationStatus.ADMITTED,
            ),
        )
    return stmt, terms


def _with_loading(stmt: sa.Select[Any]) -> sa.Select[Any]:
    return stmt.options(contains_eager(Service.provider), selectinload(Service.instrument))


@dataclass(frozen=True)
class SearchPage:
    items: list[Service]
    next_cursor: str | None


def _encode_cursor(sort: SortOrder, value: int, ident: int) -> str:
    raw = json.dumps([sort.value, value, ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: SortOrder) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, value, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if name != sort.value or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (value, ident)
        ):
            raise ValueError
        return value, ident
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "分页游标无效 / invalid cursor", {"cursor": ["Invalid cursor."]}
        ) from None


def search_services(
    session: Session, criteria: SearchCriteria, *, cursor: str | None = None, limit: int = 20
) -> SearchPage:
    """One page of matching services after ``cursor`` (keyset pagination, stable under
    inserts). Raises ValidationFailed (bad filters or cursor)."""
    stmt, terms = _filtered(session, criteria)
    key, descending = _sort_key(criteria, terms)
    if cursor:
        value, ident = _decode_cursor(cursor, criteria.sort)
        pair = sa.tuple_(key, Service.id)
        stmt = stmt.where(pair < (value, ident) if descending else pair > (value, ident))
    order = (key.desc(), Service.id.desc()) if descending else (key.asc(), Service.id.asc())
    rows = session.execute(
        _with_loading(stmt.add_columns(key.label("sort_key")).order_by(*order).limit(limit + 1))
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_service, last_key = rows[-1]
        next_cursor = _encode_cursor(criteria.sort, int(last_key), last_service.id)
    return SearchPage(items=[row[0] for row in rows], next_cursor=next_cursor)


def search_page(
    session: Session, criteria: SearchCriteria, *, page: int = 1, per_page: int = 12
) -> tuple[list[Service], int]:
    """Numbered pages for the web catalogue: (services on ``page``, total matches)."""
    stmt, terms = _filtered(session, criteria)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    key, descending = _sort_key(criteria, terms)
    order = (key.desc(), Service.id.desc()) if descending else (key.asc(), Service.id.asc())
    items = session.scalars(
        _with_loading(stmt.order_by(*order).offset((max(page, 1) - 1) * per_page).limit(per_page))
    ).all()
    return list(items), int(total)


def public_service(session: Session, service_id: int) -> Service:
    """A listed service. Raises NotFound otherwise (inactive, or provider not admitted)."""
    service = session.execute(
        _with_loading(listed_services().where(Service.id == service_id))
    ).scalar_one_or_none()
    if service is None:
        raise NotFound("no such service / 服务不存在")
    return service


def public_provider(session: Session, provider_id: int) -> Provider:
    """An admitted provider. Raises NotFound otherwise."""
    provider = session.get(Provider, provider_id)
    if provider is None or provider.status is not ProviderStatus.ADMITTED:
        raise NotFound("no such provider / 服务机构不存在")
    return provider
