"""The audit trail, for administrators and auditors (read-only): readable records (names,
labels in the chosen language, Beijing time, a diff) under the auditor's page's filters."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import endpoint
from marketplace.audit.models import AuditEvent
from marketplace.audit.schemas import AuditQuerySchema, ReadableEventOut
from marketplace.db import db_session
from marketplace.disclosure import audit_trail
from marketplace.enums import ADMIN_ROLES
from marketplace.pagination import Page, paginate


@endpoint(
    bp,
    "/audit/events",
    "GET",
    roles=ADMIN_ROLES,
    query=AuditQuerySchema,
    response=ReadableEventOut,
    paginated=True,
    tags=["audit"],
    summary="Audit records, newest first: who (name, role, address), what (label, diff), "
    "when (Beijing time); filtered by enterprise, provider, programme, order, actor, action, "
    "subject and date",
)
def list_audit_events(query: dict[str, Any]) -> Page:
    session = db_session()
    page = paginate(
        session,
        audit_trail.from_query(query),
        sort_column=AuditEvent.id,
        id_column=AuditEvent.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )
    return Page(
        items=audit_trail.readable(session, page.items, query["lang"]), next_cursor=page.next_cursor
    )
