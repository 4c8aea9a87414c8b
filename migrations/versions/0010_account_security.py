"""account security: session generation, password and second-factor state, recovery codes,
token scopes, account closure for retention

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0010"
down_revision = "0017"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = marketplace.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", ID, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("password_changed_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("totp_last_counter", ID, nullable=True))
        batch_op.add_column(sa.Column("closed_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("anonymised_at", WHEN, nullable=True))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
    op.create_table(
        "recovery_codes",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.Column("id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint(
            "user_id", "code_hash", name=op.f("uq_recovery_codes_user_id_code_hash")
        ),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch operation would
    # rebuild ``users`` on SQLite, and dropping that table trips the foreign keys pointing at it.
    op.execute("ALTER TABLE api_tokens DROP COLUMN scopes")
    for column in (
        "anonymised_at",
        "closed_at",
        "totp_last_counter",
        "totp_enabled_at",
        "totp_secret",
        "password_changed_at",
        "session_generation",
    ):
        op.execute(f"ALTER TABLE users DROP COLUMN {column}")
