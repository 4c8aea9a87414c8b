"""Issuance and use statistics for administrators (POLICY.md rule 12)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from marketplace.db import db_session
from marketplace.disclosure import services
from marketplace.web.admin.views import bp
from marketplace.web.disclosure.views import known_years, requested_year


@bp.get("/statistics")
def statistics() -> ResponseReturnValue:
    stats = services.statistics(db_session(), requested_year())
    return render_template("admin/statistics.html", stats=stats, years=known_years())
