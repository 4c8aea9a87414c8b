"""The audit trail, for administrators and auditors (read-only)."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import endpoint
from marketplace.audit.models import AuditEvent
from marketplace.audit.schemas import AuditEventOut, AuditQuerySchema
from marketplace.audit.services import filtered
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES
from marketplace.pagination import Page, paginate


@endpoint(
    bp,
    "/audit/events",
    "GET",
    roles=ADMIN_ROLES,
    query=AuditQuerySchema,
    response=AuditEventOut,
    paginated=True,
    tags=["audit"],
    summary="Audit events, newest first, filtered by action, subject, actor and time",
)
def list_audit_events(query: dict[str, Any]) -> Page:
    stmt = filtered(**{k: v for k, v in query.items() if k not in {"cursor", "limit"}})
    return paginate(
        db_session(),
        stmt,
        sort_column=AuditEvent.id,
        id_column=AuditEvent.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )
