"""Outcomes of completed orders (tag ``outcomes``): the SME records them, administrators read
them and their summaries."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import ANY_ROLE, api_user, endpoint
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import NotFound
from marketplace.orders.access import get_order
from marketplace.outcomes import services
from marketplace.outcomes.models import OrderOutcome
from marketplace.outcomes.schemas import (
    OutcomeIn,
    OutcomeOut,
    RecordOut,
    RecordsQuery,
    SummaryOut,
    SummaryQuery,
)

TAGS = ["outcomes"]


def outcome_input(body: dict[str, Any]) -> services.OutcomeInput:
    return services.OutcomeInput(
        patents=tuple((p["number"], p["type"]) for p in body["patents"]),
        certifications=body["certifications"],
        certification_note=body["certification_note"],
        high_tech_recognised=body["high_tech_recognised"],
        new_products=body["new_products"],
        new_processes=body["new_processes"],
        revenue_effect_fen=body["revenue_effect_fen"],
        cost_effect_fen=body["cost_effect_fen"],
        notes=body["notes"],
    )


@endpoint(
    bp,
    "/orders/<int:order_id>/outcome",
    "GET",
    roles=ANY_ROLE,
    response=OutcomeOut,
    tags=TAGS,
    summary="The outcomes recorded for an order (its SME and administrators)",
    errors=[404],
)
def get_outcome(order_id: int) -> OrderOutcome:
    session = db_session()
    user = api_user()
    order = get_order(session, order_id, user)
    if user.role is Role.PROVIDER:
        # Outcomes are the SME's business information, reported to the programme.
        raise NotFound("no outcomes / 无成效记录")
    outcome = services.get_outcome(session, order.id)
    if outcome is None:
        raise NotFound("尚未填报成效 / no outcomes recorded yet")
    return outcome


@endpoint(
    bp,
    "/orders/<int:order_id>/outcome",
    "PUT",
    roles=(Role.ENTERPRISE,),
    body=OutcomeIn,
    response=OutcomeOut,
    tags=TAGS,
    summary="Record or edit the order's outcomes (once confirmed, for one year)",
    errors=[404, 409, 412],
)
def put_outcome(order_id: int, body: dict[str, Any]) -> OrderOutcome:
    session = db_session()
    user = api_user()
    order = get_order(session, order_id, user)
    return services.record_outcome(
        session, order, user, outcome_input(body), expected_version=body["version"]
    )


@endpoint(
    bp,
    "/outcomes/summary",
    "GET",
    roles=ADMIN_ROLES,
    query=SummaryQuery,
    response=SummaryOut,
    many=True,
    tags=TAGS,
    summary="Outcomes per programme, service category or prefecture, and per ¥10,000",
)
def outcome_summary(query: dict[str, Any]) -> list[services.SummaryRow]:
    return services.summary(db_session(), query["by"], year=query["year"])


@endpoint(
    bp,
    "/outcomes/records",
    "GET",
    roles=ADMIN_ROLES,
    query=RecordsQuery,
    response=RecordOut,
    many=True,
    tags=TAGS,
    summary="The completed voucher orders behind a summary row, with their outcomes (or null)",
)
def outcome_records(query: dict[str, Any]) -> list[dict[str, Any]]:
    scope = services.Scope(
        year=query["year"],
        programme_id=query["programme_id"],
        category=query["category"],
        prefecture=query["prefecture"],
    )
    return [
        {
            "order_id": order.id,
            "status": order.status.value,
            "enterprise_id": order.enterprise_id,
            "provider_id": order.provider_id,
            "voucher_part_fen": order.voucher_part_fen,
            "outcome": outcome,
        }
        for order, outcome in services.records(db_session(), scope)
    ]
