"""settlement: claims (兑付申请) with their lines, checklist and history, the invoice register,
payout batches, payment lines and items

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 22:52:23.572833
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "in_review",
                "awaiting_finance",
                "changes_requested",
                "approved",
                "paid",
                "rejected",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "submitted_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("submitted_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_claims_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["users.id"],
            name=op.f("fk_claims_submitted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_status"), ["status"], unique=False)

    op.create_table(
        "payout_batches",
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "sent",
                "completed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column(
            "created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "sent_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sent_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "status = 'draft' OR sent_at IS NOT NULL", name=op.f("ck_payout_batches_sent_has_time")
        ),
        sa.CheckConstraint(
            "total_fen > 0 AND line_count > 0", name=op.f("ck_payout_batches_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_payout_batches_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["users.id"],
            name=op.f("fk_payout_batches_sent_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_batches")),
    )
    with op.batch_alter_table("payout_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_batches_status"), ["status"], unique=False)

    op.create_table(
        "payout_lines",
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("provider_name", sa.String(length=200), nullable=False),
        sa.Column("bank_account_name", sa.String(length=200), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("bank_account_number", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "paid",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("bank_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("failure_reason", sa.String(length=300), nullable=True),
        sa.Column(
            "confirmed_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("confirmed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "(status = 'pending' AND confirmed_at IS NULL AND value_date IS NULL) OR (status <> 'pending' AND confirmed_at IS NOT NULL AND value_date IS NOT NULL)",
            name=op.f("ck_payout_lines_confirmation_consistent"),
        ),
        sa.CheckConstraint(
            "status <> 'paid' OR bank_transaction_id IS NOT NULL",
            name=op.f("ck_payout_lines_paid_has_transaction"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payout_lines_amount_positive")),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payout_batches.id"],
            name=op.f("fk_payout_lines_batch_id_payout_batches"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_payout_lines_confirmed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_payout_lines_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_lines")),
        sa.UniqueConstraint(
            "bank_transaction_id", name=op.f("uq_payout_lines_bank_transaction_id")
        ),
        sa.UniqueConstraint(
            "batch_id", "provider_id", name=op.f("uq_payout_lines_batch_id_provider_id")
        ),
    )
    with op.batch_alter_table("payout_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_lines_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payout_lines_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payout_lines_status"), ["status"], unique=False)

    op.create_table(
        "claim_lines",
        sa.Column("claim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending_review",
                "changes_requested",
                "rejected",
                "reviewed",
                "approved",
                "in_payout",
                "paid",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("order_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("invoice_code", sa.String(length=20), nullable=False),
        sa.Column("invoice_number", sa.String(length=20), nullable=False),
        sa.Column("invoice_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("invoice_issued_on", sa.Date(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("precheck_passed", sa.Boolean(), nullable=False),
        sa.Column("checked_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column(
            "reviewed_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reviewed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column(
            "finance_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("finance_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finance_note", sa.Text(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column(
            "payout_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status IN ('in_payout', 'paid')) = (payout_line_id IS NOT NULL)",
            name=op.f("ck_claim_lines_payout_line_matches_status"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('reviewed', 'approved', 'in_payout', 'paid') OR reviewed_by_id IS NOT NULL",
            name=op.f("ck_claim_lines_reviewed_has_reviewer"),
        ),
        sa.CheckConstraint(
            "amount_fen > 0 AND amount_fen <= order_price_fen",
            name=op.f("ck_claim_lines_amount_within_price"),
        ),
        sa.CheckConstraint(
            "finance_by_id IS NULL OR reviewed_by_id IS NULL OR finance_by_id <> reviewed_by_id",
            name=op.f("ck_claim_lines_separation_of_duties"),
        ),
        sa.CheckConstraint(
            "order_price_fen > 0 AND invoice_amount_fen > 0",
            name=op.f("ck_claim_lines_snapshot_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_lines_claim_id_claims"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["finance_by_id"],
            ["users.id"],
            name=op.f("fk_claim_lines_finance_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_claim_lines_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_claim_lines_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payout_line_id"],
            ["payout_lines.id"],
            name=op.f("fk_claim_lines_payout_line_id_payout_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_claim_lines_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_claim_lines_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_claim_lines_reviewed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_lines")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_claim_lines_invoice_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_claim_lines_order_id")),
    )
    with op.batch_alter_table("claim_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_lines_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_claim_lines_payout_line_id"), ["payout_line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_claim_lines_programme_id"), ["programme_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_claim_lines_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_claim_lines_status"), ["status"], unique=False)

    op.create_table(
        "claim_events",
        sa.Column("claim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "submit",
                "resubmit",
                "approve",
                "request_changes",
                "reject",
                "finance_approve",
                "finance_return",
                "finance_reject",
                "batch",
                "pay",
                "payout_fail",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "pending_review",
                "changes_requested",
                "rejected",
                "reviewed",
                "approved",
                "in_payout",
                "paid",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "pending_review",
                "changes_requested",
                "rejected",
                "reviewed",
                "approved",
                "in_payout",
                "paid",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=25,
            ),
            nullable=True,
        ),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("occurred_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_claim_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_events_claim_id_claims"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["claim_lines.id"],
            name=op.f("fk_claim_events_line_id_claim_lines"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_events")),
    )
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_events_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_events_line_id"), ["line_id"], unique=False)

    op.create_table(
        "claimed_invoices",
        sa.Column("code_key", sa.String(length=20), nullable=False),
        sa.Column("number_key", sa.String(length=20), nullable=False),
        sa.Column(
            "claim_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("claimed_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_line_id"],
            ["claim_lines.id"],
            name=op.f("fk_claimed_invoices_claim_line_id_claim_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_claimed_invoices_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code_key", "number_key", name=op.f("pk_claimed_invoices")),
    )
    with op.batch_alter_table("claimed_invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_claimed_invoices_claim_line_id"), ["claim_line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_claimed_invoices_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "payout_items",
        sa.Column(
            "payout_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "claim_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payout_items_amount_positive")),
        sa.ForeignKeyConstraint(
            ["claim_line_id"],
            ["claim_lines.id"],
            name=op.f("fk_payout_items_claim_line_id_claim_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payout_items_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payout_line_id"],
            ["payout_lines.id"],
            name=op.f("fk_payout_items_payout_line_id_payout_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_payout_items_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_items")),
        sa.UniqueConstraint(
            "payout_line_id",
            "claim_line_id",
            name=op.f("uq_payout_items_payout_line_id_claim_line_id"),
        ),
    )
    with op.batch_alter_table("payout_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payout_items_claim_line_id"), ["claim_line_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payout_items_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payout_items_payout_line_id"), ["payout_line_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payout_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_items_payout_line_id"))
        batch_op.drop_index(batch_op.f("ix_payout_items_order_id"))
        batch_op.drop_index(batch_op.f("ix_payout_items_claim_line_id"))

    op.drop_table("payout_items")
    with op.batch_alter_table("claimed_invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claimed_invoices_provider_id"))
        batch_op.drop_index(batch_op.f("ix_claimed_invoices_claim_line_id"))

    op.drop_table("claimed_invoices")
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_events_line_id"))
        batch_op.drop_index(batch_op.f("ix_claim_events_claim_id"))

    op.drop_table("claim_events")
    with op.batch_alter_table("claim_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_lines_status"))
        batch_op.drop_index(batch_op.f("ix_claim_lines_provider_id"))
        batch_op.drop_index(batch_op.f("ix_claim_lines_programme_id"))
        batch_op.drop_index(batch_op.f("ix_claim_lines_payout_line_id"))
        batch_op.drop_index(batch_op.f("ix_claim_lines_claim_id"))

    op.drop_table("claim_lines")
    with op.batch_alter_table("payout_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_lines_status"))
        batch_op.drop_index(batch_op.f("ix_payout_lines_provider_id"))
        batch_op.drop_index(batch_op.f("ix_payout_lines_batch_id"))

    op.drop_table("payout_lines")
    with op.batch_alter_table("payout_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_batches_status"))

    op.drop_table("payout_batches")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_status"))
        batch_op.drop_index(batch_op.f("ix_claims_provider_id"))

    op.drop_table("claims")
