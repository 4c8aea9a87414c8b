"""Idempotency-Key support for state-changing POSTs.

The record is inserted in the *same* transaction as the request's effects, under a unique
key per caller. Two concurrent requests with one key therefore cannot both commit: on
PostgreSQL the second insert waits for the first transaction and then, meeting the unique
index, inserts nothing (``ON CONFLICT DO NOTHING``); on SQLite the write lock taken at
BEGIN serialises them. The loser replays the stored response (and its request changes
nothing). A request that fails (4xx/5xx) rolls back its record too, so
validation errors are never stored against the key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from flask import Response
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.db import Base, IdMixin, utcnow
from marketplace.problems import ApiProblem

MAX_KEY_LENGTH = 200
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_records"

    #: ``user:<id>`` for token callers, ``anonymous`` for public endpoints.
    scope: Mapped[str] = mapped_column(sa.String(40))
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(500))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    response_mimetype: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("scope", "key"),)


def fingerprint(method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _find(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )


def _replay(existing: IdempotencyRecord, request_hash: str) -> Response:
    if existing.request_hash != request_hash:
        raise ApiProblem(
            422,
            "idempotency_key_reused",
            "Idempotency-Key reused with a different request",
            "this Idempotency-Key was already used for a different request; use a new key",
        )
    response = Response(
        existing.response_body or "",
        status=existing.response_status or 200,
        mimetype=existing.response_mimetype or "application/json",
    )
    response.headers[REPLAY_HEADER] = "true"
    return response


def begin(
    session: Session, *, scope: str, key: str, method: str, path: str, request_hash: str
) -> IdempotencyRecord | Response:
    """Claim ``key`` for this request, or return the stored response to replay."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiProblem(
            400,
            "idempotency_key_invalid",
            "Invalid Idempotency-Key",
            f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable characters",
        )
    # The UNIQUE (scope, key) answers: the insert claims the key, or inserts nothing when a
    # request with it committed before (on PostgreSQL a concurrent one is waited for first);
    # only then is the stored response read. One round trip on the way in, no savepoint.
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    record = session.scalars(
        module.insert(IdempotencyRecord)
        .values(scope=scope, key=key, method=method, path=path, request_hash=request_hash)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyRecord)
    ).one_or_none()
    if record is None:
        existing = _find(session, scope, key)
        if existing is None:  # pragma: no cover - the winner rolled back in between
            raise ApiProblem(409, "idempotency_conflict", "Concurrent request", "retry the request")
        return _replay(existing, request_hash)
    return record


def complete(session: Session, record: IdempotencyRecord, response: Response) -> None:
    """Store the successful response with the record (committed with the request's effects)."""
    record.response_status = response.status_code
    record.response_body = response.get_data(as_text=True)
    record.response_mimetype = response.mimetype
    session.flush()
