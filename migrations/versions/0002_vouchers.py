"""vouchers: enterprises' verification and blacklist history, applications, vouchers, quotas,
holds, bulk issuance, recovery flags and the append-only double-entry ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:19:10.369192
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


#: Posted ledger rows are never edited or deleted: the database refuses it on both backends.
APPEND_ONLY_TABLES = ("ledger_transactions", "ledger_entries")


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'ledger rows are append-only (% on %)', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
            )
        return
    for table in APPEND_ONLY_TABLES:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN"
                f" SELECT RAISE(ABORT, 'ledger rows are append-only ({event} on {table})'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
        return
    for table in APPEND_ONLY_TABLES:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")


def upgrade() -> None:
    op.create_table(
        "enterprise_year_quotas",
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("cap_fen", sa.BigInteger(), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("cap_fen > 0", name=op.f("ck_enterprise_year_quotas_cap_positive")),
        sa.CheckConstraint(
            "used_fen + held_fen <= cap_fen", name=op.f("ck_enterprise_year_quotas_within_cap")
        ),
        sa.CheckConstraint(
            "used_fen >= 0 AND held_fen >= 0",
            name=op.f("ck_enterprise_year_quotas_amounts_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_year_quotas_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_enterprise_year_quotas_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_year_quotas")),
        sa.UniqueConstraint(
            "enterprise_id",
            "year",
            "scope",
            name=op.f("uq_enterprise_year_quotas_enterprise_id_year_scope"),
        ),
    )
    op.create_table(
        "voucher_applications",
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "live_programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "clarification_requested",
                "approved",
                "rejected",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=31,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "online",
                "bulk",
                name="source",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=True),
        sa.Column("planned_categories", sa.JSON(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("clarification_question", sa.Text(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'approved') = (approved_fen IS NOT NULL)",
            name=op.f("ck_voucher_applications_approved_has_amount"),
        ),
        sa.CheckConstraint(
            "(status = 'rejected' AND live_programme_id IS NULL) OR (status <> 'rejected' AND live_programme_id = programme_id)",
            name=op.f("ck_voucher_applications_live_key_matches_status"),
        ),
        sa.CheckConstraint(
            "approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= requested_fen)",
            name=op.f("ck_voucher_applications_approved_within_request"),
        ),
        sa.CheckConstraint(
            "requested_fen > 0", name=op.f("ck_voucher_applications_requested_positive")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_voucher_applications_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_voucher_applications_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_applications")),
        sa.UniqueConstraint(
            "enterprise_id",
            "live_programme_id",
            name=op.f("uq_voucher_applications_enterprise_id_live_programme_id"),
        ),
    )
    with op.batch_alter_table("voucher_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voucher_applications_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_voucher_applications_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "enterprise_blacklist_events",
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "action",
            sa.Enum(
                "added",
                "removed",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "action = 'removed' OR source IS NOT NULL",
            name=op.f("ck_enterprise_blacklist_events_listing_has_source"),
        ),
        sa.CheckConstraint(
            "length(reason) > 0", name=op.f("ck_enterprise_blacklist_events_reason_present")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_enterprise_blacklist_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_blacklist_events_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_blacklist_events")),
    )
    with op.batch_alter_table("enterprise_blacklist_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enterprise_blacklist_events_enterprise_id"),
            ["enterprise_id"],
            unique=False,
        )

    op.create_table(
        "enterprise_verification_events",
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "pending",
                "verified",
                "rejected",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "pending",
                "verified",
                "rejected",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_enterprise_verification_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_verification_events_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_verification_events")),
    )
    with op.batch_alter_table("enterprise_verification_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enterprise_verification_events_enterprise_id"),
            ["enterprise_id"],
            unique=False,
        )

    op.create_table(
        "voucher_application_events",
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "action",
            sa.Enum(
                "submit",
                "request_clarification",
                "clarify",
                "approve",
                "reject",
                "bulk_issue",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=29,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "submitted",
                "clarification_requested",
                "approved",
                "rejected",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=31,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "submitted",
                "clarification_requested",
                "approved",
                "rejected",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=31,
            ),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_voucher_application_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["voucher_applications.id"],
            name=op.f("fk_voucher_application_events_application_id_voucher_applications"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_application_events")),
    )
    with op.batch_alter_table("voucher_application_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voucher_application_events_application_id"),
            ["application_id"],
            unique=False,
        )

    op.create_table(
        "voucher_issuance_batches",
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("refused_count", sa.Integer(), nullable=False),
        sa.Column("issued_fen", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_voucher_issuance_batches_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_voucher_issuance_batches_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_issuance_batches")),
        sa.UniqueConstraint(
            "programme_id", "sha256", name=op.f("uq_voucher_issuance_batches_programme_id_sha256")
        ),
    )
    with op.batch_alter_table("voucher_issuance_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voucher_issuance_batches_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "vouchers",
        sa.Column("serial", sa.String(length=24), nullable=False),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "exhausted",
                "expired",
                "revoked",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("face_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_fen", sa.BigInteger(), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.Column("returned_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("use_by", sa.Date(), nullable=False),
        sa.Column("claim_deadline", sa.Date(), nullable=False),
        sa.Column("token_nonce", sa.String(length=32), nullable=False),
        sa.Column("issued_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expired_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("revocation_key", sa.String(length=200), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "status <> 'revoked' OR held_fen = 0", name=op.f("ck_vouchers_revoked_has_no_holds")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'exhausted') OR balance_fen = 0",
            name=op.f("ck_vouchers_closed_has_no_balance"),
        ),
        sa.CheckConstraint(
            "balance_fen + held_fen + used_fen + returned_fen = face_value_fen",
            name=op.f("ck_vouchers_amounts_add_up"),
        ),
        sa.CheckConstraint(
            "balance_fen >= 0 AND held_fen >= 0 AND used_fen >= 0 AND returned_fen >= 0",
            name=op.f("ck_vouchers_amounts_non_negative"),
        ),
        sa.CheckConstraint(
            "claim_deadline >= use_by AND use_by >= valid_from", name=op.f("ck_vouchers_date_order")
        ),
        sa.CheckConstraint("face_value_fen > 0", name=op.f("ck_vouchers_face_value_positive")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["voucher_applications.id"],
            name=op.f("fk_vouchers_application_id_voucher_applications"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_vouchers_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_vouchers_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("application_id", name=op.f("uq_vouchers_application_id")),
        sa.UniqueConstraint("revocation_key", name=op.f("uq_vouchers_revocation_key")),
        sa.UniqueConstraint("serial", name=op.f("uq_vouchers_serial")),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vouchers_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vouchers_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "ledger_accounts",
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "programme_funding",
                "budget_available",
                "budget_committed",
                "budget_spent",
                "vouchers_issued",
                "voucher_balance",
                "voucher_held",
                "provider_payable",
                "provider_paid",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "(kind IN ('provider_payable', 'provider_paid')) = (provider_id IS NOT NULL)",
            name=op.f("ck_ledger_accounts_provider_kind_has_provider"),
        ),
        sa.CheckConstraint(
            "(kind IN ('voucher_balance', 'voucher_held')) = (voucher_id IS NOT NULL)",
            name=op.f("ck_ledger_accounts_voucher_kind_has_voucher"),
        ),
        sa.CheckConstraint(
            "balance_fen >= 0", name=op.f("ck_ledger_accounts_balance_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_ledger_accounts_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_ledger_accounts_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_ledger_accounts_voucher_id_vouchers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_accounts_programme_id"), ["programme_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_accounts_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_accounts_voucher_id"), ["voucher_id"], unique=False
        )

    op.create_table(
        "voucher_holds",
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quota_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_ref", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "captured",
                "released",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("captured_fen", sa.BigInteger(), nullable=False),
        sa.Column("released_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("resolution_key", sa.String(length=200), nullable=True),
        sa.Column("release_reason", sa.String(length=40), nullable=True),
        sa.Column("placed_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "(status = 'open' AND captured_fen = 0 AND released_fen = 0 AND resolved_at IS NULL AND resolution_key IS NULL) OR (status <> 'open' AND captured_fen + released_fen = amount_fen AND resolved_at IS NOT NULL AND resolution_key IS NOT NULL)",
            name=op.f("ck_voucher_holds_resolution_consistent"),
        ),
        sa.CheckConstraint(
            "status <> 'captured' OR (captured_fen > 0 AND provider_id IS NOT NULL)",
            name=op.f("ck_voucher_holds_capture_has_provider"),
        ),
        sa.CheckConstraint(
            "status <> 'released' OR captured_fen = 0",
            name=op.f("ck_voucher_holds_release_is_full"),
        ),
        sa.CheckConstraint(
            "amount_fen > 0 AND amount_fen <= requested_fen AND amount_fen <= price_fen",
            name=op.f("ck_voucher_holds_amount_bounded"),
        ),
        sa.CheckConstraint(
            "captured_fen >= 0 AND released_fen >= 0",
            name=op.f("ck_voucher_holds_resolution_non_negative"),
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND requested_fen > 0", name=op.f("ck_voucher_holds_inputs_positive")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_voucher_holds_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["quota_id"],
            ["enterprise_year_quotas.id"],
            name=op.f("fk_voucher_holds_quota_id_enterprise_year_quotas"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_voucher_holds_voucher_id_vouchers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_holds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_voucher_holds_idempotency_key")),
        sa.UniqueConstraint("resolution_key", name=op.f("uq_voucher_holds_resolution_key")),
    )
    with op.batch_alter_table("voucher_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_holds_order_ref"), ["order_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_voucher_holds_quota_id"), ["quota_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_voucher_holds_voucher_id"), ["voucher_id"], unique=False
        )

    op.create_table(
        "voucher_recovery_flags",
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "amount_fen > 0", name=op.f("ck_voucher_recovery_flags_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_voucher_recovery_flags_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_voucher_recovery_flags_voucher_id_vouchers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_recovery_flags")),
        sa.UniqueConstraint("voucher_id", name=op.f("uq_voucher_recovery_flags_voucher_id")),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "budget",
                "issue",
                "hold",
                "release",
                "capture",
                "expire",
                "revoke",
                "payout",
                "adjustment",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "resolves_hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("memo", sa.String(length=300), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("posted_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_ledger_transactions_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["voucher_holds.id"],
            name=op.f("fk_ledger_transactions_hold_id_voucher_holds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_ledger_transactions_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["resolves_hold_id"],
            ["voucher_holds.id"],
            name=op.f("fk_ledger_transactions_resolves_hold_id_voucher_holds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_ledger_transactions_voucher_id_vouchers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_transactions_idempotency_key")),
        sa.UniqueConstraint(
            "resolves_hold_id", name=op.f("uq_ledger_transactions_resolves_hold_id")
        ),
    )
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_transactions_hold_id"), ["hold_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transactions_posted_at"), ["posted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transactions_programme_id"), ["programme_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transactions_voucher_id"), ["voucher_id"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "side",
            sa.Enum(
                "debit", "credit", name="side", native_enum=False, create_constraint=True, length=14
            ),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_ledger_entries_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_entries_account_id_ledger_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_transaction_id"), ["transaction_id"], unique=False
        )

    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cap_scope",
                sa.Enum(
                    "shared",
                    "programme",
                    name="cap_scope",
                    native_enum=False,
                    create_constraint=True,
                    length=17,
                ),
                server_default="shared",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.drop_column("version")
        # SQLite's batch mode copies the table with its CHECK constraints: drop the enum's
        # CHECK with its column, or the copy would refer to a column that no longer exists.
        batch_op.drop_constraint(op.f("ck_programmes_cap_scope"), type_="check")
        batch_op.drop_column("cap_scope")

    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("version")

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_account_id"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_voucher_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_programme_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_posted_at"))
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_hold_id"))

    op.drop_table("ledger_transactions")
    op.drop_table("voucher_recovery_flags")
    with op.batch_alter_table("voucher_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_holds_voucher_id"))
        batch_op.drop_index(batch_op.f("ix_voucher_holds_quota_id"))
        batch_op.drop_index(batch_op.f("ix_voucher_holds_order_ref"))

    op.drop_table("voucher_holds")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_voucher_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_provider_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_accounts_programme_id"))

    op.drop_table("ledger_accounts")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_programme_id"))
        batch_op.drop_index(batch_op.f("ix_vouchers_enterprise_id"))

    op.drop_table("vouchers")
    with op.batch_alter_table("voucher_issuance_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_issuance_batches_programme_id"))

    op.drop_table("voucher_issuance_batches")
    with op.batch_alter_table("voucher_application_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_application_events_application_id"))

    op.drop_table("voucher_application_events")
    with op.batch_alter_table("enterprise_verification_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_verification_events_enterprise_id"))

    op.drop_table("enterprise_verification_events")
    with op.batch_alter_table("enterprise_blacklist_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_blacklist_events_enterprise_id"))

    op.drop_table("enterprise_blacklist_events")
    with op.batch_alter_table("voucher_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_applications_programme_id"))
        batch_op.drop_index(batch_op.f("ix_voucher_applications_enterprise_id"))

    op.drop_table("voucher_applications")
    op.drop_table("enterprise_year_quotas")
