"""The provider's own catalogue: services, quotes, instrument listings, versions, listing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.enums import ServiceCategory
from marketplace.errors import NotFound, PreconditionFailed, ValidationFailed
from providers import admission, catalogue
from providers.catalogue import HOUR_UNIT, InstrumentInput, ServiceInput
from providers.enums import PricingMode, ProviderStatus
from providers.errors import ApplicationLocked, CategoryNotAdmitted, CategoryNotDeclared
from providers.models import InstrumentListing
from providers.search import SearchCriteria, search_services


def _testing(**overrides) -> ServiceInput:
    values = {
        "title": "材料检测服务",
        "category": ServiceCategory.TESTING,
        "description": "金属材料拉伸、硬度和化学成分检测。",
        "pricing": PricingMode.FIXED,
        "price_fen": 80_000,
        "unit": "样品",
        "lead_time_days": 7,
    }
    values.update(overrides)
    return ServiceInput(**values)


SEM = InstrumentInput(
    instrument_name="场发射扫描电子显微镜",
    model="JSM-7610F",
    location="昆明市呈贡区大学城实验楼B201",
    hourly_rate_fen=60_000,
    manufacturer="JEOL",
)


def test_a_pending_provider_prepares_services_that_are_listed_once_admitted(
    session, provider_stages
):
    provider = provider_stages.in_notice()
    service = catalogue.create_service(session, provider, _testing(), actor_id=None)
    assert service.is_active and service.version == 1
    assert search_services(session, SearchCriteria(q="材料检测")).items == []
    admission.admit(
        session, provider, actor_id=None, today=provider.notice_ends_on + timedelta(days=1)
    )
    assert [s.id for s in search_services(session, SearchCriteria(q="材料检测")).items] == [
        service.id
    ]


def test_quote_on_request_has_no_price(session, create_provider):
    provider = create_provider(service_categories=["testing"])
    service = catalogue.create_service(
        session, provider, _testing(pricing=PricingMode.QUOTE, price_fen=None), actor_id=None
    )
    assert service.price_fen is None
    with pytest.raises(ValidationFailed) as caught:
        catalogue.create_service(
            session, provider, _testing(pricing=PricingMode.QUOTE, price_fen=100), actor_id=None
        )
    assert "price_fen" in caught.value.errors


def test_invalid_services_are_refused_field_by_field(session, create_provider):
    provider = create_provider(service_categories=["testing"])
    with pytest.raises(ValidationFailed) as caught:
        catalogue.create_service(
            session,
            provider,
            _testing(title="x", description="短", price_fen=0, unit="", lead_time_days=0),
            actor_id=None,
        )
    assert {"title", "description", "price_fen", "unit", "lead_time_days"} <= set(
        caught.value.errors
    )
    with pytest.raises(CategoryNotAdmitted) as caught:
        catalogue.create_service(
            session, provider, _testing(category=ServiceCategory.AUDIT), actor_id=None
        )
    assert caught.value.field == "category" and "new application" in caught.value.message
    draft = create_provider(status=ProviderStatus.PENDING, service_categories=["testing"])
    with pytest.raises(CategoryNotDeclared) as caught:
        catalogue.create_service(
            session, draft, _testing(category=ServiceCategory.AUDIT), actor_id=None
        )
    assert caught.value.field == "category"
    with pytest.raises(ValidationFailed):
        catalogue.create_service(session, provider, _testing(price_fen=10**11), actor_id=None)
    assert catalogue.services_of(session, provider.id) == []


def test_instrument_listing_sets_price_and_unit_from_the_hourly_rate(session, create_provider):
    provider = create_provider(service_categories=["instrument_sharing", "testing"])
    service = catalogue.create_service(
        session,
        provider,
        _testing(
            title="扫描电镜 SEM 机时共享",
            category=ServiceCategory.INSTRUMENT_SHARING,
            price_fen=1,
            unit="次",
            instrument=SEM,
        ),
        actor_id=None,
    )
    assert (service.price_fen, service.unit, service.pricing) == (
        60_000,
        HOUR_UNIT,
        PricingMode.FIXED,
    )
    assert service.instrument.model == "JSM-7610F"
    # Stored lower-cased: the search tests it against the lower-cased term, row by row.
    assert "jsm-7610f" in service.search_text and "大学城" in service.search_text
    assert service.search_text == service.search_text.lower()

    with pytest.raises(ValidationFailed) as caught:
        catalogue.create_service(
            session, provider, _testing(category=ServiceCategory.INSTRUMENT_SHARING), actor_id=None
        )
    assert "instrument" in caught.value.errors
    with pytest.raises(ValidationFailed):
        catalogue.create_service(session, provider, _testing(instrument=SEM), actor_id=None)

    # Turning it into an ordinary service drops the listing.
    catalogue.update_service(
        session, provider, service.id, _testing(), actor_id=None, expected_version=1
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(InstrumentListing)) == 0
    assert "jsm" not in service.search_text


def test_updates_check_the_version_and_ownership(session, create_provider):
    provider = create_provider(service_categories=["testing"])
    other = create_provider(service_categories=["testing"])
    service = catalogue.create_service(session, provider, _testing(), actor_id=None)
    updated = catalogue.update_service(
        session, provider, service.id, _testing(price_fen=90_000), actor_id=None, expected_version=1
    )
    assert (updated.price_fen, updated.version) == (90_000, 2)
    with pytest.raises(PreconditionFailed) as caught:
        catalogue.update_service(
            session, provider, service.id, _testing(price_fen=1), actor_id=None, expected_version=1
        )
    assert caught.value.status == 412 and service.price_fen == 90_000
    with pytest.raises(NotFound):
        catalogue.update_service(session, other, service.id, _testing(), actor_id=None)
    with pytest.raises(NotFound):
        catalogue.set_service_active(session, other, service.id, False, actor_id=None)


def test_withdrawing_a_service_unlists_it(session, create_provider):
    provider = create_provider(service_categories=["testing"])
    service = catalogue.create_service(session, provider, _testing(), actor_id=None)
    catalogue.set_service_active(session, provider, service.id, False, actor_id=None)
    assert search_services(session, SearchCriteria(q="材料检测")).items == []
    catalogue.set_service_active(session, provider, service.id, True, actor_id=None)
    assert len(search_services(session, SearchCriteria(q="材料检测")).items) == 1


def test_a_revoked_provider_cannot_list(session, create_provider):
    provider = create_provider(service_categories=["testing"], status=ProviderStatus.REVOKED)
    with pytest.raises(ApplicationLocked):
        catalogue.create_service(session, provider, _testing(), actor_id=None)


def test_an_admitted_provider_offers_services_only_in_its_admitted_categories(
    session, provider_stages
):
    provider = provider_stages.in_notice(
        categories=(ServiceCategory.TESTING, ServiceCategory.AUDIT)
    )
    audit = catalogue.create_service(
        session,
        provider,
        _testing(title="专项审计服务", category=ServiceCategory.AUDIT),
        actor_id=None,
    )
    admission.admit(
        session, provider, actor_id=None, today=provider.notice_ends_on + timedelta(days=1)
    )
    # The categories are what was reviewed: the listed service stays listed …
    assert [s.id for s in search_services(session, SearchCriteria(q="专项审计")).items] == [
        audit.id
    ]
    # … and nothing outside them can be created, moved there or offered.
    with pytest.raises(CategoryNotAdmitted):
        catalogue.create_service(
            session, provider, _testing(category=ServiceCategory.RND), actor_id=None
        )
    with pytest.raises(CategoryNotAdmitted):
        catalogue.update_service(
            session, provider, audit.id, _testing(category=ServiceCategory.RND), actor_id=None
        )
    catalogue.set_service_active(session, provider, audit.id, False, actor_id=None)
    provider.service_categories = ["testing"]  # e.g. data from before the categories were locked
    session.flush()
    with pytest.raises(CategoryNotAdmitted):
        catalogue.set_service_active(session, provider, audit.id, True, actor_id=None)
    assert not audit.is_active
