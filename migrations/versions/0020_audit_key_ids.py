"""audit key ids (issue 11): each signed checkpoint names the key that signed it

``audit_checkpoints.key_id`` holds ``chain.key_id(key)`` (16 hex digits of a keyed hash, not
the key), so ``AUDIT_SIGNING_KEY`` can be rotated: retired keys listed in
``AUDIT_SIGNING_OLD_KEYS`` still verify the checkpoints that name them. Checkpoints signed
before this migration keep NULL ("any configured key"): the table is append-only (0014's
triggers), and NULL is what they truthfully say. Adding a column fires no trigger.

Revision ID: 0020
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_checkpoints", sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it would rebuild the table and lose 0014's triggers.
    op.execute("ALTER TABLE audit_checkpoints DROP COLUMN key_id")
