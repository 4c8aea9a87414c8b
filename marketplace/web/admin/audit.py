"""The audit trail pages: who did what, when, to what — names, labels in the page's language,
Beijing time and a diff — filtered by enterprise, provider, programme, order, actor, action and
date, paged, and exported as CSV or XLSX under the same filters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
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
#: Names are resolved per batch of this many records (one query per kind of subject).
EXPORT_BATCH = 2_000


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


#: The columns an export reads: plain rows, not ORM objects (several times faster to load).
EXPORT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.occurred_at,
    AuditEvent.actor_id,
    AuditEvent.actor_role,
    AuditEvent.client_address,
    AuditEvent.action,
    AuditEvent.subject_type,
    AuditEvent.subject_id,
    AuditEvent.detail,
    AuditEvent.seq,
)


def export_rows(session: Any, stmt: sa.Select[AuditEvent], lang: str) -> Iterator[list[Any]]:
    """Readable rows of ``stmt``, streamed in batches keyed on the id: one batch and its names
    in memory at a time, whatever the number of records."""
    columns = stmt.with_only_columns(*EXPORT_COLUMNS)
    last = 0
    while True:
        # Through the connection: plain rows, no ORM loading per row.
        batch = list(
            session.connection().execute(
                columns.where(AuditEvent.id > last).order_by(AuditEvent.id).limit(EXPORT_BATCH)
            )
        )
        if not batch:
            return
        for event in audit_trail.readable(session, batch, lang):
            yield [
                event.id,
                event.time_text,
                event.actor_name,
                event.actor_role,
                event.client_address,
                event.action_label,
                event.action,
                event.subject_label,
                "; ".join(f"{c.field}: {c.before} → {c.after}" for c in event.changes),
                "; ".join(f"{k}={v}" for k, v in event.details),
                "✓" if event.sealed else "",
            ]
        last = batch[-1].id


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
    rows = export_rows(session, audit_trail.from_query(filters), lang)
    return exports.download("audit-trail", kind, HEADER[lang], rows)
