"""The public catalogue over JSON (no token needed): service search, services and providers,
ratings, the public notice (公示) and objections to it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import endpoint
from marketplace.api.provider_common import today
from marketplace.db import db_session, reads_replica
from marketplace.pagination import Page, PageQuerySchema, paginate
from marketplace.ratelimit import limiter
from providers import admission, credit, services
from providers.enums import ParticipationStatus
from providers.models import Objection, Rating, Service
from providers.presenters import credit_view
from providers.schemas import (
    Extended,
    NoticeOut,
    ObjectionIn,
    ObjectionReceiptOut,
    ProviderProfileOut,
    RatingOut,
    ServiceOut,
    ServiceSearchQuery,
)
from providers.search import SearchCriteria, public_provider, public_service, search_services


@endpoint(
    bp,
    "/catalogue/services",
    "GET",
    roles=None,
    query=ServiceSearchQuery,
    response=ServiceOut,
    paginated=True,
    tags=["catalogue"],
    summary="Search the service catalogue (Chinese keywords work; filters, sorting, cursor)",
)
@reads_replica
def search_catalogue(query: dict[str, Any]) -> Page:
    """Keyword search over titles, providers, categories, descriptions and instruments, and
    the providers' valid accreditations (CNAS, CMA, numbers) and places (county names). Terms
    shorter than three characters (检测, 专利) match as substrings; a service matches when it
    contains every term. Only admitted providers' active services are listed."""
    criteria = SearchCriteria(
        q=query["q"],
        category=query["category"],
        institution_type=query["institution_type"],
        region=query["region"],
        min_price_fen=query["min_price_fen"],
        max_price_fen=query["max_price_fen"],
        min_rating=query["min_rating"],
        programme_id=query["programme_id"],
        provider_id=query["provider_id"],
        accreditation=query["accreditation"],
        sort=query["sort"],
    )
    page = search_services(db_session(), criteria, cursor=query["cursor"], limit=query["limit"])
    return Page(items=page.items, next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/catalogue/services/<int:service_id>",
    "GET",
    roles=None,
    response=ServiceOut,
    tags=["catalogue"],
    summary="One listed service",
)
def catalogue_service(service_id: int) -> Service:
    return public_service(db_session(), service_id)


@endpoint(
    bp,
    "/catalogue/providers/<int:provider_id>",
    "GET",
    roles=None,
    response=ProviderProfileOut,
    tags=["catalogue"],
    summary="An admitted provider's page: facts, programmes and credit score",
)
def catalogue_provider(provider_id: int) -> dict[str, Any]:
    session = db_session()
    provider = public_provider(session, provider_id)
    programmes = [
        p
        for p in services.participations(session, provider.id)
        if p.status is ParticipationStatus.ADMITTED
    ]
    return {
        "provider": provider,
        "programmes": programmes,
        "credit": credit_view(credit.credit_breakdown(session, provider.id)),
    }


@endpoint(
    bp,
    "/catalogue/providers/<int:provider_id>/ratings",
    "GET",
    roles=None,
    query=PageQuerySchema,
    response=RatingOut,
    paginated=True,
    tags=["catalogue"],
    summary="Ratings of an admitted provider's services (newest first)",
)
def catalogue_provider_ratings(provider_id: int, query: dict[str, Any]) -> Page:
    session = db_session()
    public_provider(session, provider_id)
    return paginate(
        session,
        sa.select(Rating).where(Rating.provider_id == provider_id),
        sort_column=Rating.id,
        id_column=Rating.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/catalogue/notices",
    "GET",
    roles=None,
    response=NoticeOut,
    many=True,
    tags=["catalogue"],
    summary="Providers in public notice (公示) today; anyone may object",
)
def notices() -> list[Any]:
    session = db_session()
    return [
        Extended(p, commitment_signed=services.current_commitment(session, p.id) is not None)
        for p in admission.in_notice(session, today())
    ]


@endpoint(
    bp,
    "/catalogue/notices/<int:provider_id>/objections",
    "POST",
    roles=None,
    body=ObjectionIn,
    response=ObjectionReceiptOut,
    status=201,
    errors=[409],
    tags=["catalogue"],
    summary="File an objection against a provider in public notice (no sign-in needed)",
)
@limiter.limit("10 per hour")
def file_objection(provider_id: int, body: dict[str, Any]) -> Objection:
    return admission.file_objection(db_session(), provider_id, today=today(), **body)
