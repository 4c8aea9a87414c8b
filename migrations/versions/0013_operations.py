"""operations (issue 17): the e-mail outbox's delivery attempts and back-off

Expand-only, so it is safe while the previous release still serves (README, "Deploys without
downtime"): new columns are nullable or have a server default, so the old code's inserts
(which do not name them) still succeed, and nothing it reads changes.

Revision ID: 0013
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=100), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbound_emails_next_attempt_at"), ["next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_emails_next_attempt_at"))
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
