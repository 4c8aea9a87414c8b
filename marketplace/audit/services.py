from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None,
    subject_type: str,
    subject_id: int | None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event to the current unit of work (flushed with it)."""
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
    session.add(event)
    return event


def filtered(
    *,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> sa.Select[AuditEvent]:
    """A query for audit events; ``action`` ending in '.' matches every action with that prefix."""
    stmt = sa.select(AuditEvent)
    if action:
        if action.endswith("."):
            escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(AuditEvent.action.like(escaped + "%", escape="\\"))
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return stmt
