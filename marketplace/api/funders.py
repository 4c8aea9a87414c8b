"""Funders (treasuries) and programmes' funders' shares and budgets over JSON: read by every
administrator role, managed by system administrators (who manage programmes and budgets)."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.vouchers import PROGRAMME_MANAGERS, READERS, TAGS
from marketplace.db import db_session
from vouchers import funders, programmes
from vouchers.funder_models import Funder
from vouchers.funders import FunderInput, ProgrammeFunders, ShareInput
from vouchers.schemas import (
    FunderBudgetIn,
    FunderIn,
    FunderOut,
    FunderUpdateIn,
    ProgrammeFundersOut,
    SharesIn,
)


def _funder_input(body: dict[str, Any]) -> FunderInput:
    account = body.get("bank_account") or {}
    return FunderInput(
        name=body["name"],
        region_code=body["region_code"],
        bank_account_name=account.get("account_name", ""),
        bank_name=account.get("bank_name", ""),
        bank_account_number=account.get("account_number", ""),
    )


@endpoint(
    bp,
    "/funders",
    "GET",
    roles=READERS,
    response=FunderOut,
    many=True,
    tags=TAGS,
    summary="Every funder (treasury), by division code",
)
def list_funders() -> list[Funder]:
    return funders.list_funders(db_session())


@endpoint(
    bp,
    "/funders/<int:funder_id>",
    "GET",
    roles=READERS,
    response=FunderOut,
    tags=TAGS,
    summary="One funder",
)
def get_funder(funder_id: int) -> Funder:
    return funders.get_funder(db_session(), funder_id)


@endpoint(
    bp,
    "/funders",
    "POST",
    roles=PROGRAMME_MANAGERS,
    body=FunderIn,
    response=FunderOut,
    status=201,
    errors=[409],
    tags=TAGS,
    summary="Register a funder: a treasury of one GB/T 2260 division, with its bank details",
)
def create_funder(body: dict[str, Any]) -> Funder:
    return funders.create_funder(db_session(), _funder_input(body), actor_id=api_user().id)


@endpoint(
    bp,
    "/funders/<int:funder_id>",
    "PUT",
    roles=PROGRAMME_MANAGERS,
    body=FunderUpdateIn,
    response=FunderOut,
    errors=[412],
    tags=TAGS,
    summary="Edit a funder's name and bank details (its division stays; send `version`)",
)
def update_funder(funder_id: int, body: dict[str, Any]) -> Funder:
    return funders.update_funder(
        db_session(),
        funder_id,
        _funder_input(body),
        expected_version=body["version"],
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/programmes/<int:programme_id>/funders",
    "GET",
    roles=READERS,
    response=ProgrammeFundersOut,
    tags=TAGS,
    summary="A programme's funders' shares and each funder's budget: granted, held, spent",
)
def get_programme_funders(programme_id: int) -> ProgrammeFunders:
    session = db_session()
    return funders.programme_funders(session, programmes.get_programme(session, programme_id))


@endpoint(
    bp,
    "/programmes/<int:programme_id>/shares",
    "PUT",
    roles=PROGRAMME_MANAGERS,
    body=SharesIn,
    response=ProgrammeFundersOut,
    errors=[409, 412],
    tags=TAGS,
    summary="Set the funders' shares (basis points summing to 10,000; a share names a funder "
    "or the SME's home prefecture or county); refused once orders hold money",
)
def set_programme_shares(programme_id: int, body: dict[str, Any]) -> ProgrammeFunders:
    session = db_session()
    funders.set_shares(
        session,
        programme_id,
        [ShareInput(s["share_bps"], s["funder_id"], s["home_level"]) for s in body["shares"]],
        expected_version=body["version"],
        actor_id=api_user().id,
    )
    return funders.programme_funders(session, programmes.get_programme(session, programme_id))


@endpoint(
    bp,
    "/programmes/<int:programme_id>/funders/<int:funder_id>/budget",
    "PUT",
    roles=PROGRAMME_MANAGERS,
    body=FunderBudgetIn,
    response=ProgrammeFundersOut,
    errors=[409],
    tags=TAGS,
    summary="Set what a funder grants a co-funded programme (posted to the funder's ledger "
    "accounts; never below what its holds and captures use)",
)
def set_funder_budget(programme_id: int, funder_id: int, body: dict[str, Any]) -> ProgrammeFunders:
    session = db_session()
    funders.set_budget(session, programme_id, funder_id, body["budget_fen"], actor_id=api_user().id)
    return funders.programme_funders(session, programmes.get_programme(session, programme_id))
