"""Outcomes for administrators: the year's summaries per programme, service category and
prefecture (each count per ¥10,000 of voucher money), and the records behind each row — the
completed voucher orders with their outcomes, or none reported yet. The dashboard charts the
same figures and opens the same records."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from marketplace.db import db_session
from marketplace.disclosure import dashboard
from marketplace.enums import ServiceCategory
from marketplace.outcomes import services
from marketplace.outcomes.enums import SummaryBy
from marketplace.web.admin.dashboard import outcome_link, outcome_series
from marketplace.web.admin.views import bp
from marketplace.web.disclosure.views import known_years, requested_year

#: Each summary's figures key (the dashboard's, whose exports serve this page too).
SUMMARIES: tuple[tuple[SummaryBy, str, str], ...] = (
    (SummaryBy.PROGRAMME, "outcomes", "programme_id"),
    (SummaryBy.CATEGORY, "outcomes_by_category", "category"),
    (SummaryBy.REGION, "outcomes_by_prefecture", "prefecture"),
)


@bp.get("/outcomes")
def outcomes() -> ResponseReturnValue:
    year = requested_year()
    session = db_session()
    tables = []
    for by, table, scope_key in SUMMARIES:
        rows = dashboard.outcome_rows(session, year, by)
        links = [outcome_link(year, **{scope_key: row["key"]}) for row in rows]
        tables.append({"by": by, "table": table, "rows": list(zip(rows, links, strict=True))})
    return render_template(
        "admin/outcomes.html",
        year=year,
        years=known_years(),
        tables=tables,
        series=outcome_series(),
    )


@bp.get("/outcomes/records")
def outcome_records() -> ResponseReturnValue:
    """The completed voucher orders behind a summary row, with their outcomes."""
    year = requested_year()
    programme_id = request.args.get("programme_id", type=int)
    if programme_id is not None and not 0 < programme_id < 2**62:
        abort(404)
    raw_category = request.args.get("category") or None
    if raw_category is not None and raw_category not in {c.value for c in ServiceCategory}:
        abort(404)
    prefecture = request.args.get("prefecture") or None
    if prefecture is not None and not (
        prefecture.isdigit() and len(prefecture) == 6 and prefecture.endswith("00")
    ):
        abort(404)
    scope = services.Scope(
        year=year,
        programme_id=programme_id,
        category=ServiceCategory(raw_category) if raw_category else None,
        prefecture=prefecture,
    )
    return render_template(
        "admin/outcome_records.html",
        scope=scope,
        records=services.records(db_session(), scope),
    )
