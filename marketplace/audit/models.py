"""The audit trail: who did what to which record, when. Append-only and tamper-evident.

A record is written in the transaction of the change it describes, with a keyed MAC of its
content (``mac``) that only the application can compute. A sealing step run shortly after the
commit (:mod:`marketplace.audit.chain`) later gives each record, in one locked pass, its place
in the chain (``seq``), its predecessor's hash (``prev_hash``) and its own (``hash``). The
database refuses UPDATE and DELETE on the table except those three columns being set once from
NULL (triggers of migration 0014, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigInt, IdMixin, utcnow

#: The columns the sealing step may set, once, from NULL; everything else is frozen at insert.
SEAL_COLUMNS = ("seq", "prev_hash", "hash")
#: The columns covered by a record's MAC (its content, as the application wrote it).
CONTENT_COLUMNS = (
    "occurred_at",
    "actor_id",
    "actor_role",
    "client_address",
    "action",
    "subject_type",
    "subject_id",
    "detail",
    "nonce",
)


class AuditEvent(IdMixin, Base):
    """One recorded action. Rows are only ever inserted (and sealed once)."""

    __tablename__ = "audit_events"

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: The actor's role when acting (a user's role may change later; the record must not).
    actor_role: Mapped[str | None] = mapped_column(sa.String(20))
    #: The client's address (IPv4 or IPv6) for actions taken in a web or API request.
    client_address: Mapped[str | None] = mapped_column(sa.String(45))
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[int | None] = mapped_column(BigInt)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: Random per record, so two identical actions in one microsecond still differ (and a copy
    #: of a record inserted again is caught by the unique MAC).
    nonce: Mapped[str] = mapped_column(sa.String(32))
    #: HMAC-SHA256 of the content under the audit key: proves the application wrote the record.
    mac: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: Position in the chain, given by the sealing step (commit order, not id order).
    seq: Mapped[int | None] = mapped_column(BigInt, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),
        # The sealing step finds its work through this index (a handful of rows at a time).
        sa.Index(
            "ix_audit_events_unsealed",
            "id",
            sqlite_where=sa.text("seq IS NULL"),
            postgresql_where=sa.text("seq IS NULL"),
        ),
        sa.CheckConstraint(
            "(seq IS NULL AND prev_hash IS NULL AND hash IS NULL)"
            " OR (seq IS NOT NULL AND prev_hash IS NOT NULL AND hash IS NOT NULL)",
            name="sealed_together",
        ),
    )


class AuditCheckpoint(IdMixin, Base):
    """A signed statement of the chain's head on one day: position, hash, HMAC signature.

    Written daily (``flask audit checkpoint``) and exported with a copy of the trail, so an
    inspector holding the key can check that copy without access to our database.
    """

    __tablename__ = "audit_checkpoints"

    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    seq: Mapped[int] = mapped_column(BigInt)
    head_hash: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    signature: Mapped[str] = mapped_column(sa.String(64))
    #: Which key signed (``chain.key_id``), so the key can be rotated; NULL before 0020.
    key_id: Mapped[str | None] = mapped_column(sa.String(16))

    __table_args__ = (sa.CheckConstraint("seq >= 0", name="seq_not_negative"),)
