"""The provider's own listings over JSON: services and instrument-sharing entries, their
prices and whether they are listed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.provider_common import PROVIDER, own_provider
from marketplace.db import db_session
from marketplace.pagination import Page, PageQuerySchema, paginate
from providers import catalogue
from providers.models import Service
from providers.presenters import instrument_input, service_input
from providers.schemas import (
    InstrumentServiceIn,
    InstrumentServiceUpdateIn,
    ServiceActiveIn,
    ServiceIn,
    ServiceOut,
    ServiceUpdateIn,
)


@endpoint(
    bp,
    "/provider/services",
    "GET",
    roles=PROVIDER,
    query=PageQuerySchema,
    response=ServiceOut,
    paginated=True,
    tags=["provider portal"],
    summary="Your services, listed or not (newest first)",
)
def my_services(query: dict[str, Any]) -> Page:
    return paginate(
        db_session(),
        sa.select(Service).where(Service.provider_id == own_provider().id),
        sort_column=Service.id,
        id_column=Service.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/provider/services",
    "POST",
    roles=PROVIDER,
    body=ServiceIn,
    response=ServiceOut,
    status=201,
    errors=[409],
    tags=["provider portal"],
    summary="Add a service: a price per unit, or price_fen null for a quote on request",
)
def create_service(body: dict[str, Any]) -> Service:
    provider = own_provider()
    return catalogue.create_service(
        db_session(), provider, service_input(body), actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/services/<int:service_id>",
    "GET",
    roles=PROVIDER,
    response=ServiceOut,
    tags=["provider portal"],
    summary="One of your services",
)
def my_service(service_id: int) -> Service:
    return catalogue.get_service(db_session(), service_id, provider_id=own_provider().id)


@endpoint(
    bp,
    "/provider/services/<int:service_id>",
    "PUT",
    roles=PROVIDER,
    body=ServiceUpdateIn,
    response=ServiceOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Replace a service's details (send the version you read)",
)
def update_service(service_id: int, body: dict[str, Any]) -> Service:
    version = body.pop("version")
    return catalogue.update_service(
        db_session(),
        own_provider(),
        service_id,
        service_input(body),
        actor_id=api_user().id,
        expected_version=version,
    )


@endpoint(
    bp,
    "/provider/instruments",
    "POST",
    roles=PROVIDER,
    body=InstrumentServiceIn,
    response=ServiceOut,
    status=201,
    errors=[409],
    tags=["provider portal"],
    summary="List an instrument for sharing (instrument model, location, hourly rate)",
)
def create_instrument(body: dict[str, Any]) -> Service:
    return catalogue.create_service(
        db_session(), own_provider(), instrument_input(body), actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/instruments/<int:service_id>",
    "PUT",
    roles=PROVIDER,
    body=InstrumentServiceUpdateIn,
    response=ServiceOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Replace an instrument listing (send the version you read)",
)
def update_instrument(service_id: int, body: dict[str, Any]) -> Service:
    version = body.pop("version")
    return catalogue.update_service(
        db_session(),
        own_provider(),
        service_id,
        instrument_input(body),
        actor_id=api_user().id,
        expected_version=version,
    )


@endpoint(
    bp,
    "/provider/services/<int:service_id>/active",
    "PUT",
    roles=PROVIDER,
    body=ServiceActiveIn,
    response=ServiceOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Offer (true) or withdraw (false) a service",
)
def set_service_active(service_id: int, body: dict[str, Any]) -> Service:
    return catalogue.set_service_active(
        db_session(),
        own_provider(),
        service_id,
        body["is_active"],
        actor_id=api_user().id,
        expected_version=body["version"],
    )
