"""The dashboard: charts (Apache ECharts, served from our static files) with their numbers in
a table beside each and a click-through to the records; CSV/XLSX of every table.

No inline script: the figures travel in a ``<script type="application/json">`` block that
``static/js/dashboard.js`` reads, so the strict content security policy holds.
"""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from marketplace import exports
from marketplace.db import db_session
from marketplace.disclosure import dashboard
from marketplace.enums import ServiceCategory
from marketplace.exports import Format
from marketplace.i18n import _
from marketplace.outcomes.services import COUNTED
from marketplace.web.admin.views import bp
from marketplace.web.disclosure.views import known_years, requested_year

#: The columns of an outcome summary (figures "outcomes…"; the per-¥10,000 figures ×100).
OUTCOME_COLUMNS: tuple[str, ...] = (
    "key", "label_zh", "label_en", "orders", "reported", "voucher_fen", *COUNTED,
    *(f"{count}_per_10k_x100" for count in COUNTED),
)  # fmt: skip
#: The tables a dashboard export can hold: figures key → (columns).
TABLES: dict[str, tuple[str, ...]] = {
    "budgets": (
        "programme_id", "name", "total_fen", "committed_fen", "spent_fen", "settled_fen",
        "issued_fen", "redemption_bps",
    ),
    "funders": (
        "programme_id", "programme", "funder_id", "name", "region_code", "budget_fen",
        "held_fen", "spent_fen", "in_payout_fen", "paid_fen", "available_fen",
    ),
    "months": ("month", "issued_fen", "redeemed_fen"),
    "prefectures": ("code", "name", "issued_fen", "redeemed_fen"),
    "counties": ("code", "name", "prefecture", "prefecture_name", "issued_fen", "redeemed_fen"),
    "categories": ("category", "label_zh", "label_en", "orders", "redeemed_fen"),
    "providers": ("provider_id", "name", "orders", "redeemed_fen"),
    "payout_days": ("label", "low", "high", "orders"),
    "flags": ("rule", "label_zh", "label_en", "orders"),
    "findings": ("outcome", "label_zh", "label_en", "count"),
    "outcomes": ("programme_id", *OUTCOME_COLUMNS),
    "outcomes_by_category": OUTCOME_COLUMNS,
    "outcomes_by_prefecture": OUTCOME_COLUMNS,
}  # fmt: skip


def _yuan(fen: int) -> float:
    # Chart axes only: the tables and exports keep exact fen.
    return fen / 100


def _label(row: dict[str, Any], en: bool) -> str:
    return str(row["label_en"] if en else row["label_zh"])


def charts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """One spec per chart for dashboard.js: categories, series, and the URL each bar opens."""
    en = str(get_locale()) == "en"
    year = figures["year"]

    def seg(**kw: Any) -> str:
        return url_for("admin.dashboard_orders", year=year, **kw)

    budgets = figures["budgets"]
    return [
        {
            "id": "budgets",
            "title": _("Budget, committed, spent and settled per programme (yuan)"),
            "type": "bar",
            "categories": [b["name"] for b in budgets],
            "series": [
                {"name": _("Budget"), "data": [_yuan(b["total_fen"]) for b in budgets]},
                {"name": _("Committed"), "data": [_yuan(b["committed_fen"]) for b in budgets]},
                {"name": _("Spent"), "data": [_yuan(b["spent_fen"]) for b in budgets]},
                {"name": _("Settled"), "data": [_yuan(b["settled_fen"]) for b in budgets]},
            ],
            "links": [seg(programme_id=b["programme_id"]) for b in budgets],
        },
        {
            "id": "funders",
            "title": _("Per funder: budget, held, spent, in payout and paid out (yuan)"),
            "type": "bar",
            "categories": [f"{f['name']} · {f['programme']}" for f in figures["funders"]],
            "series": [
                {"name": name, "data": [_yuan(f[key]) for f in figures["funders"]]}
                for key, name in (
                    ("budget_fen", _("Budget")),
                    ("held_fen", _("Held")),
                    ("spent_fen", _("Spent")),
                    ("in_payout_fen", _("In payout")),
                    ("paid_fen", _("Paid out")),
                )
            ],
            "links": [seg(programme_id=f["programme_id"]) for f in figures["funders"]],
        },
        {
            "id": "months",
            "title": _("Issuance and redemption by month (yuan)"),
            "type": "line",
            "categories": [str(m["month"]) for m in figures["months"]],
            "series": [
                {"name": _("Issued"), "data": [_yuan(m["issued_fen"]) for m in figures["months"]]},
                {
                    "name": _("Redeemed"),
                    "data": [_yuan(m["redeemed_fen"]) for m in figures["months"]],
                },
            ],
            "links": [seg(month=m["month"]) for m in figures["months"]],
        },
        {
            "id": "prefectures",
            "title": _("By prefecture (yuan)"),
            "type": "bar",
            "categories": [r["name"] for r in figures["prefectures"]],
            "series": [
                {
                    "name": _("Issued"),
                    "data": [_yuan(r["issued_fen"]) for r in figures["prefectures"]],
                },
                {
                    "name": _("Redeemed"),
                    "data": [_yuan(r["redeemed_fen"]) for r in figures["prefectures"]],
                },
            ],
            "links": [seg(region=r["code"]) for r in figures["prefectures"]],
        },
        {
            "id": "counties",
            "title": _("By county (yuan)"),
            "type": "bar",
            "categories": [r["name"] for r in figures["counties"]],
            "series": [
                {
                    "name": _("Issued"),
                    "data": [_yuan(r["issued_fen"]) for r in figures["counties"]],
                },
                {
                    "name": _("Redeemed"),
                    "data": [_yuan(r["redeemed_fen"]) for r in figures["counties"]],
                },
            ],
            "links": [seg(region=r["code"]) for r in figures["counties"]],
        },
        {
            "id": "categories",
            "title": _("Voucher money redeemed by service category (yuan)"),
            "type": "pie",
            "categories": [_label(c, en) for c in figures["categories"]],
            "series": [
                {
                    "name": _("Redeemed"),
                    "data": [_yuan(c["redeemed_fen"]) for c in figures["categories"]],
                }
            ],
            "links": [seg(category=c["category"]) for c in figures["categories"]],
        },
        {
            "id": "providers",
            "title": _("Voucher money redeemed by provider (yuan)"),
            "type": "bar",
            "categories": [p["name"] for p in figures["providers"]],
            "series": [
                {
                    "name": _("Redeemed"),
                    "data": [_yuan(p["redeemed_fen"]) for p in figures["providers"]],
                }
            ],
            "links": [seg(provider_id=p["provider_id"]) for p in figures["providers"]],
        },
        {
            "id": "redemption",
            "title": _("Redemption rate per programme (%)"),
            "type": "bar",
            "categories": [b["name"] for b in budgets],
            "series": [
                {"name": _("Redemption rate"), "data": [b["redemption_bps"] / 100 for b in budgets]}
            ],
            "links": [seg(programme_id=b["programme_id"]) for b in budgets],
        },
        {
            "id": "payout_days",
            "title": _("Days from agreement to payout (orders)"),
            "type": "bar",
            "categories": [b["label"] for b in figures["payout_days"]["buckets"]],
            "series": [
                {
                    "name": _("Orders"),
                    "data": [b["orders"] for b in figures["payout_days"]["buckets"]],
                }
            ],
            "links": [
                url_for("admin.settlement_claims") for _b in figures["payout_days"]["buckets"]
            ],
        },
        {
            "id": "flags",
            "title": _("Risk flags by rule (orders)"),
            "type": "bar",
            "categories": [_label(f, en) for f in figures["flags"]],
            "series": [{"name": _("Orders"), "data": [f["orders"] for f in figures["flags"]]}],
            "links": [url_for("risk.flags", rule=f["rule"]) for f in figures["flags"]],
        },
        {
            "id": "findings",
            "title": _("Audit findings"),
            "type": "pie",
            "categories": [_label(f, en) for f in figures["findings"]],
            "series": [{"name": _("Findings"), "data": [f["count"] for f in figures["findings"]]}],
            "links": [url_for("risk.findings", outcome=f["outcome"]) for f in figures["findings"]],
        },
        _outcome_chart(
            "outcomes",
            _("Outcomes per ¥10,000 of voucher money, by programme"),
            figures["outcomes"],
            [outcome_link(year, programme_id=o["programme_id"]) for o in figures["outcomes"]],
            en,
        ),
        _outcome_chart(
            "outcomes_by_category",
            _("Outcomes per ¥10,000 of voucher money, by service category"),
            figures["outcomes_by_category"],
            [outcome_link(year, category=o["key"]) for o in figures["outcomes_by_category"]],
            en,
        ),
        _outcome_chart(
            "outcomes_by_prefecture",
            _("Outcomes per ¥10,000 of voucher money, by prefecture"),
            figures["outcomes_by_prefecture"],
            [outcome_link(year, prefecture=o["key"]) for o in figures["outcomes_by_prefecture"]],
            en,
        ),
    ]


def outcome_series() -> list[tuple[str, str]]:
    """(count, its name in the page's language) of every outcome a summary counts."""
    return [
        ("patents", _("Patent applications")),
        ("certifications", _("Certifications or test reports")),
        ("high_tech", _("High-tech enterprise recognitions")),
        ("new_products", _("New products")),
        ("new_processes", _("New processes")),
    ]


def outcome_link(year: int, **scope: Any) -> str:
    """The records behind an outcome summary row (the completed orders and their outcomes)."""
    return url_for("admin.outcome_records", year=year, **scope)


def _outcome_chart(
    chart_id: str, title: str, rows: list[dict[str, Any]], links: list[str], en: bool
) -> dict[str, Any]:
    return {
        "id": chart_id,
        "title": title,
        "type": "bar",
        "categories": [_label(r, en) for r in rows],
        "series": [
            {"name": name, "data": [r[f"{count}_per_10k_x100"] / 100 for r in rows]}
            for count, name in outcome_series()
        ],
        "links": links,
    }


@bp.get("/dashboard")
def dashboard_page() -> ResponseReturnValue:
    year = requested_year()
    figures = dashboard.figures(db_session(), year)
    return render_template(
        "admin/dashboard.html",
        figures=figures,
        charts=charts(figures),
        years=known_years(),
        tables=TABLES,
    )


@bp.get("/dashboard/<table>.csv", defaults={"kind": Format.CSV})
@bp.get("/dashboard/<table>.xlsx", defaults={"kind": Format.XLSX})
def dashboard_file(table: str, kind: Format) -> ResponseReturnValue:
    if table not in TABLES:
        abort(404)
    year = requested_year()
    figures = dashboard.figures(db_session(), year)
    rows = figures[table]["buckets"] if table == "payout_days" else figures[table]
    columns = TABLES[table]
    return exports.download(
        f"dashboard-{table}-{year}", kind, list(columns), ([r[c] for c in columns] for r in rows)
    )


@bp.get("/dashboard/orders")
def dashboard_orders() -> ResponseReturnValue:
    """The records behind a chart's bar: the orders of one segment."""
    year = requested_year()
    month = request.args.get("month", type=int)
    category = request.args.get("category") or None
    region = request.args.get("region") or None
    if month is not None and not 1 <= month <= 12:
        abort(404)
    if region is not None and not (region.isdigit() and len(region) == 6):
        abort(404)
    if category is not None and category not in {c.value for c in ServiceCategory}:
        abort(404)
    segment = dashboard.Segment(
        year=year,
        programme_id=_positive("programme_id"),
        provider_id=_positive("provider_id"),
        region=region,
        category=category,
        month=month,
    )
    return render_template(
        "admin/dashboard_orders.html",
        orders=dashboard.segment_orders(db_session(), segment),
        segment=segment,
    )


def _positive(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value < 2**62 else None
