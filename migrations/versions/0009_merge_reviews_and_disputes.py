"""merge the provider-evidence (0008b) and payment-disputes/order-terms (0008a) heads

They were written side by side and touch different tables; one head keeps
``flask db revision`` and downgrades to a single, named point simple.

Revision ID: 0009
Revises: 0008a, 0008b
"""

from __future__ import annotations

revision = "0009"
down_revision = ("0008a", "0008b")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
