"""The audit trail pages: filter, page through, export as CSV."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from marketplace import exports
from marketplace.audit.models import AuditEvent
from marketplace.audit.schemas import AuditQuerySchema
from marketplace.audit.services import filtered
from marketplace.db import db_session
from marketplace.exports import Format
from marketplace.web.admin.views import bp

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


def _filters() -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated filters from the query string (blank fields ignored) and the errors, if any."""
    raw = {k: v for k, v in request.args.items() if v.strip() and k in AuditQuerySchema().fields}
    raw.pop("cursor", None)
    raw.pop("limit", None)
    try:
        loaded = AuditQuerySchema().load(raw)
    except ValidationError as exc:
        return {}, dict(exc.messages) if isinstance(exc.messages, dict) else {}
    return {k: v for k, v in loaded.items() if k not in {"cursor", "limit"}}, {}


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    filters, errors = _filters()
    stmt = filtered(**filters).order_by(AuditEvent.id.desc())
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    events = list(db_session().scalars(stmt.limit(PAGE_SIZE + 1)))
    older = events[PAGE_SIZE - 1].id if len(events) > PAGE_SIZE else None
    return render_template(
        "admin/audit.html",
        events=events[:PAGE_SIZE],
        older=older,
        errors=errors,
        args={k: v for k, v in request.args.items() if k != "before"},
    ), (400 if errors else 200)


@bp.get("/audit.csv", defaults={"kind": Format.CSV})
@bp.get("/audit.xlsx", defaults={"kind": Format.XLSX})
def audit_file(kind: Format) -> ResponseReturnValue:
    filters, errors = _filters()
    if errors:
        return Response("invalid filters\n", status=400, mimetype="text/plain")
    stmt = filtered(**filters).order_by(AuditEvent.id).limit(EXPORT_LIMIT)
    header = ["id", "occurred_at_utc", "actor_id", "action", "subject_type", "subject_id", "detail"]
    rows = (
        [
            event.id,
            event.occurred_at,
            event.actor_id,
            event.action,
            event.subject_type,
            event.subject_id,
            json.dumps(event.detail, ensure_ascii=False, sort_keys=True),
        ]
        for event in db_session().scalars(stmt)
    )
    return exports.download("audit-events", kind, header, rows)
