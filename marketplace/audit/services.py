from __future__ import annotations

from typing import Any

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
