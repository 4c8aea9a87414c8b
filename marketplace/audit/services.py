"""Recording audit events, and the queries the auditor's pages and the API run over them.

:func:`record` is the one way to write to the trail; its signature is stable (other areas and
the batching of inserts rely on it). Every state change and money movement calls it in the
transaction of the change (``tests/architecture/test_audit_coverage.py`` reads the code).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context, has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Session

from marketplace import jobs
from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.auth.models import User

#: Detail keys that would put personal data into the trail in clear. Records keep personal
#: data by reference (the row's id) or as :func:`pseudonym`, so that anonymising the person
#: later (the retention rule) never has to touch, and so break, the sealed chain.
PERSONAL_KEYS = frozenset(
    {
        "phone",
        "mobile",
        "contact_phone",
        "email",
        "contact_email",
        "id_number",
        "id_card",
        "identity_number",
        "bank_account",
        "bank_account_number",
        "account_number",
    }
)
#: The sealing job is queued at most this often per process (seconds): one run seals every
#: record committed since the last, so queuing it after every commit would only add work.
#: Quiet periods are covered by ``flask audit seal`` from cron and by ``audit verify``.
SEAL_INTERVAL = 1.0
_next_seal = 0.0

SYSTEM_ROLE = "system"


def pseudonym(value: str) -> str:
    """A keyed hash of a piece of personal data, for a record that must mention it."""
    return chain.keyed_hash(chain.signing_key(), value)


def _acting(session: Session, actor_id: int | None) -> tuple[str | None, str | None]:
    """(role, client address) of the actor, from the request when there is one."""
    address = request.remote_addr if has_request_context() else None
    if actor_id is None:
        return SYSTEM_ROLE, address
    user: Any = None
    if has_request_context():
        user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    if user is None or getattr(user, "id", None) != actor_id:
        # Usually in the identity map already (the request loaded it): no query.
        user = session.get(User, actor_id)
    role = user.role.value if user is not None else None
    return role, address


def _schedule_seal(session: Session) -> None:
    global _next_seal
    if not has_app_context():
        return
    now = time.monotonic()
    if now < _next_seal:
        return
    _next_seal = now + SEAL_INTERVAL
    jobs.enqueue(session, "marketplace.audit.chain.seal_job")


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None,
    subject_type: str,
    subject_id: int | None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event to the current unit of work (flushed with it).

    ``detail`` carries what changed (``from_status``/``to_status``, or ``before``/``after``
    mappings, amounts in fen, related ids). Personal data goes in by reference or through
    :func:`pseudonym`; a detail key naming it in clear raises ValueError.
    """
    clear = PERSONAL_KEYS.intersection(detail)
    if clear:
        raise ValueError(f"audit detail must not hold personal data in clear: {sorted(clear)}")
    role, address = _acting(session, actor_id)
    fields: dict[str, Any] = {
        "occurred_at": datetime.now(UTC),
        "actor_id": actor_id,
        "actor_role": role,
        "client_address": address,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "detail": chain.normalised_detail(detail),
        "nonce": secrets.token_hex(16),
    }
    event = AuditEvent(
        occurred_at=fields["occurred_at"],
        actor_id=actor_id,
        actor_role=role,
        client_address=address,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=fields["detail"],
        nonce=fields["nonce"],
        mac=chain.mac_of(chain.signing_key(), fields),
    )
    session.add(event)
    _schedule_seal(session)
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
