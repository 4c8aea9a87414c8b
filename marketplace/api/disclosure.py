"""Public disclosure (no token needed) and statistics (administrators)."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import endpoint
from marketplace.db import db_session, reads_replica
from marketplace.disclosure import services
from marketplace.disclosure.schemas import (
    FunderRedemptionOut,
    GrantOut,
    GrantQuerySchema,
    RedemptionOut,
    StatisticsOut,
    YearQuerySchema,
)
from marketplace.enums import ADMIN_ROLES
from marketplace.pagination import Page, paginate
from vouchers.funders import FunderRedemption
from vouchers.models import Voucher


@endpoint(
    bp,
    "/disclosure/grants",
    "GET",
    roles=None,
    query=GrantQuerySchema,
    response=GrantOut,
    paginated=True,
    tags=["disclosure"],
    summary="Vouchers granted in a year (public notice): enterprise, programme, amount",
)
@reads_replica
def list_grants(query: dict[str, Any]) -> Page:
    page = paginate(
        db_session(),
        services.grants_query(query["year"], query["programme_id"]),
        sort_column=Voucher.id,
        id_column=Voucher.id,
        cursor=query["cursor"],
        limit=query["limit"],
    )
    return Page(services.as_grants(db_session(), page.items), page.next_cursor)


@endpoint(
    bp,
    "/disclosure/redemptions",
    "GET",
    roles=None,
    query=YearQuerySchema,
    response=RedemptionOut,
    many=True,
    tags=["disclosure"],
    summary="Voucher money redeemed per provider in a year (public)",
)
@reads_replica
def list_redemptions(query: dict[str, Any]) -> list[services.Redemption]:
    return services.redemptions(db_session(), query["year"])


@endpoint(
    bp,
    "/disclosure/funders",
    "GET",
    roles=None,
    query=YearQuerySchema,
    response=FunderRedemptionOut,
    many=True,
    tags=["disclosure"],
    summary="Voucher money redeemed per paying treasury in a year (public; co-funded orders "
    "by each funder's part)",
)
def list_funder_redemptions(query: dict[str, Any]) -> list[FunderRedemption]:
    return services.funder_redemptions(db_session(), query["year"])


@endpoint(
    bp,
    "/statistics",
    "GET",
    roles=ADMIN_ROLES,
    query=YearQuerySchema,
    response=StatisticsOut,
    tags=["disclosure"],
    summary="Issuance and use statistics for a year: budgets, regions, sizes, months",
)
@reads_replica
def get_statistics(query: dict[str, Any]) -> services.Statistics:
    return services.statistics(db_session(), query["year"])
