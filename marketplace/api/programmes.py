"""Programmes over JSON: list and read (any signed-in role), create and edit (system
administrators; rules frozen once vouchers are issued), budgets with the low-budget alert
(administrators), bulk issuance with its per-row report (reviewers)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.vouchers import PROGRAMME_MANAGERS, READERS, REVIEWERS, TAGS
from marketplace.db import db_session
from marketplace.errors import NotFound
from marketplace.pagination import Page, PageQuerySchema, paginate
from vouchers import common, issuance, programmes
from vouchers.models import IssuanceBatch, Programme
from vouchers.schemas import (
    BatchOut,
    BatchSummaryOut,
    BudgetOut,
    BulkIssueIn,
    ProgrammeIn,
    ProgrammeOut,
    ProgrammeQuery,
    ProgrammeUpdateIn,
)


def _programme_input(body: dict[str, Any]) -> programmes.ProgrammeInput:
    return programmes.ProgrammeInput(
        **{name: body[name] for name in programmes.ProgrammeInput.__dataclass_fields__}
    )


@endpoint(
    bp,
    "/programmes",
    "GET",
    query=ProgrammeQuery,
    response=ProgrammeOut,
    paginated=True,
    tags=TAGS,
    summary="List voucher programmes (optionally only those open for applications on a date)",
)
def list_programmes(query: dict[str, Any]) -> Page:
    stmt = sa.select(Programme)
    if query["open_on"] is not None:
        day = query["open_on"]
        stmt = stmt.where(
            Programme.applications_open_on <= day, Programme.applications_close_on >= day
        )
    return paginate(
        db_session(),
        stmt,
        sort_column=Programme.id,
        id_column=Programme.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/programmes/<int:programme_id>",
    "GET",
    response=ProgrammeOut,
    tags=TAGS,
    summary="One programme with its rules",
)
def get_programme(programme_id: int) -> Programme:
    return programmes.get_programme(db_session(), programme_id)


@endpoint(
    bp,
    "/programmes",
    "POST",
    roles=PROGRAMME_MANAGERS,
    body=ProgrammeIn,
    response=ProgrammeOut,
    status=201,
    errors=[409],
    tags=TAGS,
    summary="Create a programme and grant its budget",
)
def create_programme(body: dict[str, Any]) -> Programme:
    return programmes.create_programme(db_session(), _programme_input(body), actor_id=api_user().id)


@endpoint(
    bp,
    "/programmes/<int:programme_id>",
    "PUT",
    roles=PROGRAMME_MANAGERS,
    body=ProgrammeUpdateIn,
    response=ProgrammeOut,
    errors=[409, 412],
    tags=TAGS,
    summary="Edit a programme (rules are frozen once vouchers are issued; send `version`)",
)
def update_programme(programme_id: int, body: dict[str, Any]) -> Programme:
    version = body.pop("version")
    return programmes.update_programme(
        db_session(),
        programme_id,
        _programme_input(body),
        expected_version=version,
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/budgets",
    "GET",
    roles=READERS,
    response=BudgetOut,
    many=True,
    tags=TAGS,
    summary="Budget overview of every programme, with the low-budget alert",
)
def list_budgets() -> list[programmes.Budget]:
    return programmes.budgets(db_session())


@endpoint(
    bp,
    "/programmes/<int:programme_id>/budget",
    "GET",
    roles=READERS,
    response=BudgetOut,
    tags=TAGS,
    summary="One programme's budget: available, committed, spent, paid out",
)
def get_budget(programme_id: int) -> programmes.Budget:
    found = programmes.budgets(db_session(), [programme_id])
    if not found:
        raise NotFound("没有该券种 / no such programme")
    return found[0]


def _batch_out(batch: IssuanceBatch, replayed: bool) -> dict[str, Any]:
    fields = ("id", "programme_id", "filename", "sha256", "issued_count", "refused_count")
    return {
        **{name: getattr(batch, name) for name in fields},
        "issued_fen": batch.issued_fen,
        "created_at": batch.created_at,
        "report": batch.report,
        "replayed": replayed,
    }


@endpoint(
    bp,
    "/programmes/<int:programme_id>/bulk-issuances",
    "POST",
    roles=REVIEWERS,
    body=BulkIssueIn,
    response=BatchOut,
    status=201,
    idempotency_required=True,
    tags=TAGS,
    summary="Issue vouchers in bulk; the answer reports each row (issued or refused, and why)",
)
def bulk_issue(programme_id: int, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    rows = issuance.rows_from_json(body["rows"])
    batch, replayed = issuance.issue_in_bulk(
        db_session(),
        programme_id,
        rows,
        filename=body["filename"],
        digest=issuance.digest_of_rows(rows),
        actor_id=api_user().id,
    )
    return _batch_out(batch, replayed), 200 if replayed else 201


@endpoint(
    bp,
    "/programmes/<int:programme_id>/bulk-issuances",
    "GET",
    roles=READERS,
    query=PageQuerySchema,
    response=BatchSummaryOut,
    paginated=True,
    tags=TAGS,
    summary="A programme's bulk issuances, newest first (each batch's rows: /issuance-batches)",
)
def list_bulk_issuances(programme_id: int, query: dict[str, Any]) -> Page:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    return paginate(
        session,
        sa.select(IssuanceBatch).where(IssuanceBatch.programme_id == programme.id),
        sort_column=IssuanceBatch.id,
        id_column=IssuanceBatch.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/issuance-batches/<int:batch_id>",
    "GET",
    roles=READERS,
    response=BatchOut,
    tags=TAGS,
    summary="The per-row report of one bulk issuance",
)
def get_batch(batch_id: int) -> dict[str, Any]:
    batch = common.fetch(db_session(), IssuanceBatch, batch_id)
    if batch is None:
        raise NotFound("没有该批次 / no such batch")
    return _batch_out(batch, False)
