"""The service catalogue: a provider's services and instrument-sharing listings.

A provider may prepare services before it is admitted; they are listed (and orderable) only
while the provider is admitted, the service is active and its category is one the provider
was admitted with (providers.search, providers.related.ensure_orderable). After admission the
categories are locked (providers.services.update_profile), so a service can only be created
in, or moved to, a category that was reviewed. An instrument listing is a service of the
instrument-sharing category whose price is the instrument's hourly rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from marketplace.audit.services import record
from marketplace.enums import ServiceCategory
from marketplace.errors import NotFound, PreconditionFailed, ValidationFailed
from providers.enums import PricingMode, ProviderStatus
from providers.errors import ApplicationLocked, CategoryNotAdmitted, CategoryNotDeclared
from providers.models import InstrumentListing, Provider, Service
from providers.search import category_admitted

HOUR_UNIT = "小时"
MAX_LEAD_TIME_DAYS = 365
#: Upper bound of any price we store: 100 million yuan.
MAX_PRICE_FEN = 10_000_000_000
PRICE_RANGE = "须大于0且不超过1亿元 / more than 0 and at most 100 million yuan"


@dataclass(frozen=True)
class InstrumentInput:
    instrument_name: str
    model: str
    location: str
    hourly_rate_fen: int
    manufacturer: str | None = None
    booking_notes: str | None = None


@dataclass(frozen=True)
class ServiceInput:
    title: str
    category: ServiceCategory
    description: str
    pricing: PricingMode
    price_fen: int | None
    unit: str
    lead_time_days: int
    instrument: InstrumentInput | None = None


#: Statuses in which the categories were reviewed and can no longer change.
_REVIEWED_STATUSES = frozenset(
    {ProviderStatus.ADMITTED, ProviderStatus.SUSPENDED, ProviderStatus.REVOKED}
)


def _not_admitted(provider: Provider, category: ServiceCategory) -> CategoryNotAdmitted:
    return CategoryNotAdmitted(
        f"本机构未以“{category.zh}”类别入库，不能在该类别下提供服务；新增类别须重新申请并经审核，"
        f"平台暂不支持此类申请 / the institution was not admitted for {category.en} and cannot "
        "offer services in it; adding a category needs a new application and review, which the "
        "platform does not offer yet",
        field="category",
        extra={
            "category": category.value,
            "service_categories": list(provider.service_categories or []),
        },
    )


def ensure_category_admitted(provider: Provider, category: ServiceCategory) -> None:
    """Raises CategoryNotAdmitted unless ``category`` is one of the provider's (reviewed)
    service categories."""
    if category.value not in (provider.service_categories or []):
        raise _not_admitted(provider, category)


def _length(errors: dict[str, list[str]], key: str, text: str, low: int, high: int) -> None:
    if not low <= len(text) <= high:
        errors.setdefault(key, []).append(f"{low}–{high} 字 / {low} to {high} characters")


def validate_service(provider: Provider, data: ServiceInput) -> ServiceInput:
    """The input, normalised (instrument listings take their price and unit from the hourly
    rate). Raises ValidationFailed with field-level messages."""
    if data.category.value not in (provider.service_categories or []):
        if provider.status in _REVIEWED_STATUSES:
            raise _not_admitted(provider, data.category)
        raise CategoryNotDeclared(
            f"请先在机构资料中登记“{data.category.zh}”类别 / declare {data.category.en} in your "
            "institution's file first",
            field="category",
        )
    errors: dict[str, list[str]] = {}
    title, description, unit = data.title.strip(), data.description.strip(), data.unit.strip()
    _length(errors, "title", title, 2, 200)
    _length(errors, "description", description, 10, 5000)
    if not 1 <= data.lead_time_days <= MAX_LEAD_TIME_DAYS:
        errors["lead_time_days"] = [f"1–{MAX_LEAD_TIME_DAYS} 天 / 1 to {MAX_LEAD_TIME_DAYS} days"]
    pricing, price = data.pricing, data.price_fen
    instrument = data.instrument
    if data.category is ServiceCategory.INSTRUMENT_SHARING:
        if instrument is None:
            errors["instrument"] = [
                "仪器共享服务须填写仪器信息 / instrument sharing needs the instrument's details"
            ]
        else:
            instrument = InstrumentInput(
                instrument_name=instrument.instrument_name.strip(),
                model=instrument.model.strip(),
                location=instrument.location.strip(),
                hourly_rate_fen=instrument.hourly_rate_fen,
                manufacturer=(instrument.manufacturer or "").strip() or None,
                booking_notes=(instrument.booking_notes or "").strip() or None,
            )
            _length(errors, "instrument_name", instrument.instrument_name, 2, 200)
            _length(errors, "model", instrument.model, 1, 100)
            _length(errors, "location", instrument.location, 2, 200)
            if len(instrument.manufacturer or "") > 100:
                errors["manufacturer"] = ["不超过100字 / at most 100 characters"]
            if not 0 < instrument.hourly_rate_fen <= MAX_PRICE_FEN:
                errors["hourly_rate_fen"] = [PRICE_RANGE]
            pricing, price, unit = PricingMode.FIXED, instrument.hourly_rate_fen, HOUR_UNIT
    else:
        if instrument is not None:
            errors["instrument"] = [
                "仅仪器设备共享类服务可填写仪器信息 / only instrument-sharing services list an instrument"
            ]
        _length(errors, "unit", unit, 1, 20)
        if pricing is PricingMode.FIXED and (price is None or not 0 < price <= MAX_PRICE_FEN):
            errors["price_fen"] = [PRICE_RANGE]
        if pricing is PricingMode.QUOTE:
            if price is not None:
                errors["price_fen"] = ["询价服务不填价格 / a quote-on-request service has no price"]
            price = None
    if errors:
        raise ValidationFailed("服务信息有误 / the service has invalid fields", errors)
    return ServiceInput(
        title=title,
        category=data.category,
        description=description,
        pricing=pricing,
        price_fen=price,
        unit=unit,
        lead_time_days=data.lead_time_days,
        instrument=instrument,
    )


def build_search_text(service: Service, provider: Provider) -> str:
    """Everything a keyword may match, in one column the trigram indexes cover, lower-cased:
    the search tests it against the lower-cased term with no per-row ``lower()`` (on
    PostgreSQL a trigger of migration 0023 also lower-cases what other writers store)."""
    parts = [
        service.title,
        provider.name,
        service.category.zh,
        service.category.en,
        provider.institution_type.zh,
        service.description,
    ]
    listing = service.instrument
    if listing is not None:
        parts += [
            listing.instrument_name,
            listing.model,
            listing.manufacturer or "",
            listing.location,
        ]
    return "\n".join(p for p in parts if p).lower()


def _ensure_may_list(provider: Provider) -> None:
    if provider.status is ProviderStatus.REVOKED:
        raise ApplicationLocked("资格已撤销 / the provider's admission was revoked")


def _apply(service: Service, provider: Provider, data: ServiceInput) -> None:
    service.title = data.title
    service.category = data.category
    service.description = data.description
    service.pricing = data.pricing
    service.price_fen = data.price_fen
    service.unit = data.unit
    service.lead_time_days = data.lead_time_days
    if data.instrument is None:
        service.instrument = None  # delete-orphan removes a former listing
    else:
        listing = service.instrument or InstrumentListing()
        listing.instrument_name = data.instrument.instrument_name
        listing.model = data.instrument.model
        listing.manufacturer = data.instrument.manufacturer
        listing.location = data.instrument.location
        listing.hourly_rate_fen = data.instrument.hourly_rate_fen
        listing.booking_notes = data.instrument.booking_notes
        service.instrument = listing
    service.search_text = build_search_text(service, provider)


def create_service(
    session: Session, provider: Provider, data: ServiceInput, *, actor_id: int | None
) -> Service:
    """Add a service (active; listed once the provider is admitted).

    Raises ValidationFailed, ApplicationLocked (revoked provider).
    """
    _ensure_may_list(provider)
    clean = validate_service(provider, data)
    service = Service(provider_id=provider.id, provider=provider, is_active=True)
    _apply(service, provider, clean)
    session.add(service)
    session.flush()
    record(
        session,
        "service.created",
        actor_id=actor_id,
        subject_type="service",
        subject_id=service.id,
        provider_id=provider.id,
        category=clean.category.value,
    )
    return service


def get_service(session: Session, service_id: int, *, provider_id: int | None = None) -> Service:
    """A service (of ``provider_id`` when given). Raises NotFound, also for another
    provider's service."""
    service = session.scalar(
        sa.select(Service)
        .where(Service.id == service_id)
        .options(selectinload(Service.instrument), selectinload(Service.provider))
    )
    if service is None or (provider_id is not None and service.provider_id != provider_id):
        raise NotFound("no such service / 服务不存在")
    return service


def _check_version(service: Service, expected: int | None) -> None:
    if expected is not None and expected != service.version:
        raise PreconditionFailed(
            "服务已被修改，请刷新后重试 / the service changed since you read it; reload and retry",
            extra={"current_version": service.version},
        )


def update_service(
    session: Session,
    provider: Provider,
    service_id: int,
    data: ServiceInput,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Service:
    """Replace a service's details. Raises NotFound, PreconditionFailed, ValidationFailed,
    ApplicationLocked."""
    _ensure_may_list(provider)
    service = get_service(session, service_id, provider_id=provider.id)
    session.refresh(service, with_for_update={"key_share": True})
    _check_version(service, expected_version)
    clean = validate_service(provider, data)
    _apply(service, provider, clean)
    service.version += 1
    session.flush()
    record(
        session,
        "service.updated",
        actor_id=actor_id,
        subject_type="service",
        subject_id=service.id,
        provider_id=provider.id,
    )
    return service


def set_service_active(
    session: Session,
    provider: Provider,
    service_id: int,
    active: bool,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Service:
    """Offer or withdraw a service. Raises NotFound, PreconditionFailed, ApplicationLocked,
    CategoryNotAdmitted (offering a service outside the admitted categories)."""
    _ensure_may_list(provider)
    service = get_service(session, service_id, provider_id=provider.id)
    _check_version(service, expected_version)
    if active and provider.status in _REVIEWED_STATUSES:
        ensure_category_admitted(provider, service.category)
    if service.is_active != active:
        service.is_active = active
        service.version += 1
        session.flush()
        record(
            session,
            "service.activated" if active else "service.deactivated",
            actor_id=actor_id,
            subject_type="service",
            subject_id=service.id,
            provider_id=provider.id,
        )
    return service


def services_of(session: Session, provider_id: int, *, active_only: bool = False) -> list[Service]:
    """A provider's services; with ``active_only``, those it offers publicly (active, in a
    category it was admitted with)."""
    stmt = (
        sa.select(Service)
        .where(Service.provider_id == provider_id)
        .options(selectinload(Service.instrument))
        .order_by(Service.category, Service.id)
    )
    if active_only:
        stmt = stmt.join(Provider, Provider.id == Service.provider_id).where(
            Service.is_active.is_(True), category_admitted()
        )
    return list(session.scalars(stmt))
