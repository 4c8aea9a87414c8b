"""provider reviews: settlement bank-account changes under maker-checker, objections tied to
their notice round

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 01:17:22.997291
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_bank_changes",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bank_account_name", sa.String(length=200), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("bank_account_number", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "superseded",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column(
            "requested_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("requested_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "decided_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "status != 'rejected' OR decision_reason IS NOT NULL",
            name=op.f("ck_provider_bank_changes_rejection_has_reason"),
        ),
        sa.CheckConstraint(
            "status = 'pending' OR decided_at IS NOT NULL",
            name=op.f("ck_provider_bank_changes_decision_has_time"),
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR requested_by_id IS NULL OR decided_by_id != requested_by_id",
            name=op.f("ck_provider_bank_changes_checker_is_not_maker"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_provider_bank_changes_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_bank_changes_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_provider_bank_changes_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_bank_changes")),
    )
    with op.batch_alter_table("provider_bank_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_bank_changes_provider_id"), ["provider_id"], unique=False
        )
        # At most one request per provider awaits a decision.
        batch_op.create_index(
            "uq_provider_bank_changes_one_pending",
            ["provider_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    with op.batch_alter_table("provider_objections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "notice_change_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_provider_objections_notice_change_id"),
            ["notice_change_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_provider_objections_notice_change_id_provider_status_changes"),
            "provider_status_changes",
            ["notice_change_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # Objections already on file belong to the notice round that was running when they were
    # filed: the provider's latest pass-to-notice step at or before the filing time.
    op.execute(
        """
        UPDATE provider_objections SET notice_change_id = (
            SELECT max(c.id) FROM provider_status_changes c
            WHERE c.provider_id = provider_objections.provider_id
              AND c.action = 'pass_to_notice'
              AND c.occurred_at <= provider_objections.filed_at
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("provider_objections", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_provider_objections_notice_change_id_provider_status_changes"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_provider_objections_notice_change_id"))
        batch_op.drop_column("notice_change_id")

    with op.batch_alter_table("provider_bank_changes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_provider_bank_changes_one_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_provider_bank_changes_provider_id"))

    op.drop_table("provider_bank_changes")
