"""Blacklisting freezes over JSON: the orders a listing froze, and the reviewer's decision on
each (release the voucher money to the budget, or unfreeze with a reason). Reviewers decide;
every administrator role reads."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.vouchers import READERS, REVIEWERS, TAGS
from marketplace.db import db_session
from marketplace.pagination import Page, paginate
from vouchers import freezes
from vouchers.enums import FreezeAction
from vouchers.models import HoldFreeze
from vouchers.schemas import FreezeDecisionIn, FreezeOut, FreezeQuery


@endpoint(
    bp,
    "/freezes",
    "GET",
    roles=READERS,
    query=FreezeQuery,
    response=FreezeOut,
    paginated=True,
    tags=TAGS,
    summary="Orders frozen by a blacklisting (default: those awaiting a decision)",
)
def list_freezes(query: dict[str, Any]) -> Page:
    stmt = freezes.pending(db_session(), enterprise_id=query["enterprise_id"], include_decided=True)
    stmt = stmt.where(HoldFreeze.status == query["status"]).order_by(None)
    return paginate(
        db_session(),
        stmt,
        sort_column=HoldFreeze.id,
        id_column=HoldFreeze.id,
        cursor=query["cursor"],
        limit=query["limit"],
    )


@endpoint(
    bp,
    "/freezes/<int:freeze_id>",
    "GET",
    roles=READERS,
    response=FreezeOut,
    tags=TAGS,
    summary="One frozen order",
)
def get_freeze(freeze_id: int) -> HoldFreeze:
    return freezes.get_freeze(db_session(), freeze_id)


@endpoint(
    bp,
    "/freezes/<int:freeze_id>/decision",
    "POST",
    roles=REVIEWERS,
    body=FreezeDecisionIn,
    response=FreezeOut,
    errors=[409],
    tags=TAGS,
    summary="Release the order's voucher money to the budget, or unfreeze it (with a reason)",
)
def decide_freeze(freeze_id: int, body: dict[str, Any]) -> HoldFreeze:
    return freezes.decide(
        db_session(),
        freeze_id,
        FreezeAction(body["decision"]),
        reason=body["reason"],
        actor_id=api_user().id,
    )
