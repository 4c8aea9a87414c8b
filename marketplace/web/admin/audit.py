"""The audit trail pages: who did what, when, to what — names, labels in the page's language,
Beijing time and a diff — filtered by enterprise, provider, programme, order, actor, action and
date, paged, and exported as CSV or XLSX under the same filters."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError

from marketplace import exports
from marketplace.audit.models import AuditEvent
from marketplace.audit.schemas import AuditQuerySchema
from marketplace.db import db_session
from marketplace.disclosure import audit_trail
from marketplace.exports import Format
from marketplace.web.admin.views import bp
from marketplace.web.templating import page_lang
from providers.personal_data import record_export

PAGE_SIZE = 50


def _filters() -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated filters from the query string (blank fields ignored) and the errors, if any."""
    fields = AuditQuerySchema().fields
    raw = {k: v for k, v in request.args.items() if v.strip() and k in fields}
    for ignored in ("cursor", "limit", "lang"):
        raw.pop(ignored, None)
    try:
        loaded = AuditQuerySchema().load(raw)
    except ValidationError as exc:
        return {}, dict(exc.messages) if isinstance(exc.messages, dict) else {}
    return {k: v for k, v in loaded.items() if k not in {"cursor", "limit", "lang"}}, {}


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    filters, errors = _filters()
    session = db_session()
    stmt = audit_trail.from_query(filters).order_by(AuditEvent.id.desc())
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    events = list(session.scalars(stmt.limit(PAGE_SIZE + 1))) if not errors else []
    older = events[PAGE_SIZE - 1].id if len(events) > PAGE_SIZE else None
    return render_template(
        "admin/audit.html",
        events=audit_trail.readable(session, events[:PAGE_SIZE], page_lang()),
        older=older,
        errors=errors,
        args={k: v for k, v in request.args.items() if k not in {"before", "lang"}},
    ), (400 if errors else 200)


HEADER = {
    "zh": [
        "编号",
        "时间（北京时间）",
        "操作人",
        "角色",
        "客户端地址",
        "操作",
        "操作代码",
        "对象",
        "变更",
        "其他信息",
        "已封存",
    ],
    "en": [
        "id",
        "time (Beijing)",
        "actor",
        "role",
        "client address",
        "action",
        "action code",
        "subject",
        "changes",
        "details",
        "sealed",
    ],
}


@bp.get("/audit.csv", defaults={"kind": Format.CSV})
@bp.get("/audit.xlsx", defaults={"kind": Format.XLSX})
def audit_file(kind: Format) -> ResponseReturnValue:
    filters, errors = _filters()
    if errors:
        return Response("invalid filters\n", status=400, mimetype="text/plain")
    lang = page_lang()
    session = db_session()
    # The file holds the client addresses of every event: personal data leaving the platform.
    record_export(session, current_user.id, f"audit_trail.{kind.value}", subject_type="audit_trail")
    stmt = audit_trail.from_query(filters)
    rows = audit_trail.export_rows(session, stmt, lang)
    return exports.download(
        "audit-trail", kind, HEADER[lang], rows, total=lambda: exports.count(session, stmt)
    )
