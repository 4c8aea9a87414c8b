"""The dashboard's figures (tag ``statistics``): what the charts of /admin/dashboard draw."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import Schema, fields, validate

from marketplace.api import bp
from marketplace.api.endpoint import endpoint
from marketplace.db import db_session, reads_replica
from marketplace.disclosure import dashboard
from marketplace.enums import ADMIN_ROLES
from marketplace.schemas import StrictSchema

_ROWS = fields.List(fields.Dict(keys=fields.String()), required=True)


class DashboardQuery(StrictSchema):
    year = fields.Integer(load_default=None, validate=validate.Range(2000, 2100))


class DashboardOut(Schema):
    year = fields.Integer(required=True)
    budgets = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        metadata={
            "description": "per programme: total, committed, spent, settled and issued fen, "
            "redemption_bps (spent of issued)"
        },
    )
    funders = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        metadata={
            "description": "per co-funded programme and funder (paying treasury): budget, "
            "held, spent (captured), in_payout (in unconfirmed payout batches), paid and "
            "available fen"
        },
    )
    months = _ROWS
    counties = _ROWS
    prefectures = _ROWS
    categories = _ROWS
    providers = _ROWS
    payout_days = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "orders, median_days and buckets of days agreement → payout"},
    )
    flags = _ROWS
    findings = _ROWS
    outcomes = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        metadata={
            "description": "per programme: completed voucher orders, how many reported "
            "outcomes, voucher_fen, each count and each count per ¥10,000 ×100 "
            "(<count>_per_10k_x100)"
        },
    )
    outcomes_by_category = _ROWS
    outcomes_by_prefecture = _ROWS


@endpoint(
    bp,
    "/dashboard",
    "GET",
    roles=ADMIN_ROLES,
    query=DashboardQuery,
    response=DashboardOut,
    tags=["statistics"],
    summary="Every figure of the administrators' dashboard for a year (default: this year)",
)
@reads_replica
def get_dashboard(query: dict[str, Any]) -> dict[str, Any]:
    return dashboard.figures(db_session(), query["year"] or date.today().year)
