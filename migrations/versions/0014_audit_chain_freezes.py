"""audit trail: role, client address, MAC and hash-chain seal columns, append-only triggers,
signed daily checkpoints; blacklisting freezes: the voucher status ``frozen`` and the
``hold_freezes`` of a listing

Existing records get a nonce and a MAC under the audit key of this environment
(``AUDIT_SIGNING_KEY``, the development key when unset) and are sealed by the first
``flask audit seal``. The triggers refuse UPDATE and DELETE on ``audit_events`` except the
three seal columns being set once from NULL, and refuse every change to
``audit_checkpoints``, on SQLite and PostgreSQL alike.

The voucher status CHECKs widen to admit ``frozen``. On SQLite that is done by rewriting the
table's CHECK text in the schema (SQLite's documented procedure for loosening a constraint,
https://sqlite.org/lang_altertable.html#otheralter): rebuilding ``vouchers`` would drop a
table other tables' rows point at, which foreign keys refuse inside a migration's transaction.

Revision ID: 0014
Revises: 0009
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Must match marketplace.config.DEVELOPMENT_AUDIT_SIGNING_KEY (written out: a migration
#: keeps working whatever the code later becomes).
_DEVELOPMENT_KEY = "development-audit-signing-key-not-for-production"
#: Every column but the seal columns: frozen once inserted.
_FROZEN = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "client_address",
    "action",
    "subject_type",
    "subject_id",
    "detail",
    "nonce",
    "mac",
)


def _backfill() -> None:
    """Give records written before this revision a nonce and a MAC (same form as
    marketplace.audit.chain.mac_of)."""
    bind = op.get_bind()
    key = (os.environ.get("AUDIT_SIGNING_KEY") or _DEVELOPMENT_KEY).encode()
    table = sa.table(
        "audit_events",
        sa.column("id", _ID),
        sa.column("occurred_at", marketplace.db.UTCDateTime(timezone=True)),
        sa.column("actor_id", _ID),
        sa.column("action", sa.String),
        sa.column("subject_type", sa.String),
        sa.column("subject_id", _ID),
        sa.column("detail", sa.JSON),
        sa.column("nonce", sa.String),
        sa.column("mac", sa.String),
    )
    rows = bind.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    for row in rows:
        nonce = secrets.token_hex(16)
        values = {
            "occurred_at": row["occurred_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": row["actor_id"],
            "actor_role": None,
            "client_address": None,
            "action": row["action"],
            "subject_type": row["subject_type"],
            "subject_id": row["subject_id"],
            "detail": row["detail"],
            "nonce": nonce,
        }
        body = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        mac = hmac.new(key, b"audit-record\x00" + body.encode(), hashlib.sha256).hexdigest()
        bind.execute(table.update().where(table.c.id == row["id"]).values(nonce=nonce, mac=mac))


def _create_triggers() -> None:
    frozen_pg = " AND ".join(
        f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _FROZEN if c != "detail"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
                   AND NEW.detail::text IS NOT DISTINCT FROM OLD.detail::text
                   AND {frozen_pg} THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'audit records are append-only (% on %)', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        op.execute(
            """
            CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit records are append-only (% on %)', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        for table in ("audit_events", "audit_checkpoints"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                f" FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
            )
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN)
    op.execute(
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
        f" WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR {changed} BEGIN"
        " SELECT RAISE(ABORT, 'audit records are append-only (UPDATE on audit_events)'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN"
        " SELECT RAISE(ABORT, 'audit records are append-only (DELETE on audit_events)'); END"
    )
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_checkpoints_no_{event.lower()} BEFORE {event}"
            " ON audit_checkpoints BEGIN SELECT RAISE(ABORT,"
            f" 'audit records are append-only ({event} on audit_checkpoints)'); END"
        )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("audit_events", "audit_checkpoints"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        return
    for name in (
        "audit_events_no_update",
        "audit_events_no_delete",
        "audit_checkpoints_no_update",
        "audit_checkpoints_no_delete",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


_VOUCHER_CHECKS = {
    # name: (old text, new text)
    "ck_vouchers_status": (
        "status IN ('active', 'exhausted', 'expired', 'revoked')",
        "status IN ('active', 'exhausted', 'expired', 'revoked', 'frozen')",
    ),
    "ck_vouchers_closed_has_no_balance": (
        "status IN ('active', 'exhausted') OR balance_fen = 0",
        "status IN ('active', 'exhausted', 'frozen') OR balance_fen = 0",
    ),
}


def _rewrite_sqlite_checks(new: bool) -> None:
    bind = op.get_bind()
    sql = bind.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type='table' AND name='vouchers'")
    )
    for name, (old_text, new_text) in _VOUCHER_CHECKS.items():
        before, after = (old_text, new_text) if new else (new_text, old_text)
        clause = f"CONSTRAINT {name} CHECK ({before})"
        if clause not in sql:
            raise RuntimeError(f"vouchers: {name} is not as expected; cannot rewrite it")
        sql = sql.replace(clause, f"CONSTRAINT {name} CHECK ({after})")
    version = int(bind.scalar(sa.text("PRAGMA schema_version")))
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type='table' AND name='vouchers'"),
        {"sql": sql},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    if bind.scalar(sa.text("PRAGMA integrity_check")) != "ok":
        raise RuntimeError("vouchers: the schema rewrite left the database inconsistent")


def _widen_voucher_checks(new: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite_checks(new)
        return
    for name, (old_text, new_text) in _VOUCHER_CHECKS.items():
        op.drop_constraint(op.f(name), "vouchers", type_="check")
        op.create_check_constraint(op.f(name), "vouchers", new_text if new else old_text)


def _create_hold_freezes() -> None:
    op.create_table(
        "hold_freezes",
        sa.Column("hold_id", _ID, nullable=False),
        sa.Column("voucher_id", _ID, nullable=False),
        sa.Column("enterprise_id", _ID, nullable=False),
        sa.Column("blacklist_event_id", _ID, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "frozen",
                "released",
                "unfrozen",
                "lifted",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("frozen_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", _ID, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("id", _ID, nullable=False),
        sa.CheckConstraint(
            "(status = 'frozen' AND decided_at IS NULL) OR (status <> 'frozen'"
            " AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)",
            name=op.f("ck_hold_freezes_decided_with_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["blacklist_event_id"],
            ["enterprise_blacklist_events.id"],
            name=op.f("fk_hold_freezes_blacklist_event_id_enterprise_blacklist_events"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_hold_freezes_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_hold_freezes_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["voucher_holds.id"],
            name=op.f("fk_hold_freezes_hold_id_voucher_holds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_hold_freezes_voucher_id_vouchers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_freezes")),
        sa.UniqueConstraint("hold_id", "blacklist_event_id", name="uq_hold_freezes_hold_listing"),
    )
    with op.batch_alter_table("hold_freezes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hold_freezes_enterprise_id"), ["enterprise_id"])
        batch_op.create_index(batch_op.f("ix_hold_freezes_hold_id"), ["hold_id"])
        batch_op.create_index(batch_op.f("ix_hold_freezes_voucher_id"), ["voucher_id"])


def _create_claim_line_freezes() -> None:
    op.create_table(
        "claim_line_freezes",
        sa.Column("claim_line_id", _ID, nullable=False),
        sa.Column("provider_id", _ID, nullable=False),
        sa.Column("status_change_id", _ID, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "frozen",
                "released",
                "unfrozen",
                "lifted",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("frozen_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", _ID, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("id", _ID, nullable=False),
        sa.CheckConstraint(
            "(status = 'frozen' AND decided_at IS NULL) OR (status <> 'frozen'"
            " AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)",
            name=op.f("ck_claim_line_freezes_decided_with_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_line_id"],
            ["claim_lines.id"],
            name=op.f("fk_claim_line_freezes_claim_line_id_claim_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_claim_line_freezes_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_claim_line_freezes_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["status_change_id"],
            ["provider_status_changes.id"],
            name=op.f("fk_claim_line_freezes_status_change_id_provider_status_changes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_line_freezes")),
        sa.UniqueConstraint(
            "claim_line_id", "status_change_id", name="uq_claim_line_freezes_line_suspension"
        ),
    )
    with op.batch_alter_table("claim_line_freezes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_line_freezes_claim_line_id"), ["claim_line_id"])
        batch_op.create_index(batch_op.f("ix_claim_line_freezes_provider_id"), ["provider_id"])


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_role", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("client_address", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("nonce", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seq", _ID, nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _backfill()
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("nonce", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("mac", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_mac"), ["mac"])
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
        batch_op.create_check_constraint(
            "sealed_together",
            "(seq IS NULL AND prev_hash IS NULL AND hash IS NULL)"
            " OR (seq IS NOT NULL AND prev_hash IS NOT NULL AND hash IS NOT NULL)",
        )
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["id"],
        unique=False,
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", _ID, nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_audit_checkpoints_seq_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("day", name=op.f("uq_audit_checkpoints_day")),
    )
    _create_triggers()
    _widen_voucher_checks(new=True)
    _create_hold_freezes()
    _create_claim_line_freezes()


def downgrade() -> None:
    op.drop_table("claim_line_freezes")
    op.drop_table("hold_freezes")
    _widen_voucher_checks(new=False)
    _drop_triggers()
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_events_unsealed", table_name="audit_events")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint("sealed_together", type_="check")
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_audit_events_mac"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        batch_op.drop_column("mac")
        batch_op.drop_column("nonce")
        batch_op.drop_column("client_address")
        batch_op.drop_column("actor_role")
