"""Public disclosure pages (no sign-in) and the administrators' statistics page."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from marketplace import exports
from marketplace.db import db_session, reads_replica
from marketplace.disclosure import services
from marketplace.disclosure.schemas import EARLIEST_YEAR, LATEST_YEAR
from marketplace.exports import Format
from marketplace.money import format_fen
from vouchers.models import Programme

bp = Blueprint("disclosure", __name__, url_prefix="/disclosure")


def requested_year() -> int:
    year = request.args.get("year", type=int) or date.today().year
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        abort(404)
    return year


def known_years() -> list[int]:
    years = set(db_session().scalars(sa.select(Programme.year)))
    years.add(date.today().year)
    return sorted(years, reverse=True)


@bp.get("/")
@reads_replica
def index() -> ResponseReturnValue:
    year = requested_year()
    session = db_session()
    grants = services.grants(session, year)
    return render_template(
        "disclosure/index.html",
        year=year,
        years=known_years(),
        grants=grants,
        total_fen=sum(g.face_value_fen for g in grants if not g.revoked),
        redemptions=services.redemptions(session, year),
        funder_redemptions=services.funder_redemptions(session, year),
    )


@bp.get("/<int:year>.csv", defaults={"kind": Format.CSV})
@bp.get("/<int:year>.xlsx", defaults={"kind": Format.XLSX})
def grants_file(year: int, kind: Format) -> ResponseReturnValue:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        abort(404)
    header = [
        "序号 No.",
        "企业名称 Enterprise",
        "统一社会信用代码 Credit code",
        "地区 Region",
        "项目 Programme",
        "金额（元） Amount (CNY)",
        "发放日期 Issued",
        "状态 Status",
        "出资方 Paid by",
    ]
    rows = (
        [
            n,
            g.enterprise_name,
            g.credit_code,
            g.region,
            g.programme_name,
            format_fen(g.face_value_fen, symbol=False, grouping=False),
            g.issued_on,
            "已撤销 revoked" if g.revoked else "有效 granted",
            services.payers_text(g.payers),
        ]
        for n, g in enumerate(services.grants(db_session(), year), start=1)
    )
    return exports.download(f"vouchers-granted-{year}", kind, header, rows)
