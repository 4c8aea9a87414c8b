"""issue 11 (related parties, risk flags, outcomes): the party index, legal representatives,
registered addresses and bank accounts of enterprises, the programmes' group cap

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-06 06:25:23.773970
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "party_attributes",
        sa.Column(
            "party_kind",
            sa.Enum(
                "enterprise",
                "provider",
                name="party_kind",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "legal_representative",
                "bank_account",
                "phone",
                "address",
                "email_domain",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=28,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("evidence", sa.String(length=300), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("length(value) > 0", name=op.f("ck_party_attributes_value_present")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_attributes")),
        sa.UniqueConstraint(
            "party_kind",
            "party_id",
            "kind",
            "value",
            name=op.f("uq_party_attributes_party_kind_party_id_kind_value"),
        ),
    )
    with op.batch_alter_table("party_attributes", schema=None) as batch_op:
        batch_op.create_index("ix_party_attributes_lookup", ["kind", "value"], unique=False)

    op.add_column("enterprises", sa.Column("legal_rep_name", sa.String(length=100), nullable=True))
    op.add_column(
        "enterprises", sa.Column("legal_rep_id_hash", sa.String(length=64), nullable=True)
    )
    op.add_column(
        "enterprises", sa.Column("legal_rep_id_masked", sa.String(length=32), nullable=True)
    )
    op.add_column(
        "enterprises", sa.Column("registered_address", sa.String(length=300), nullable=True)
    )
    op.add_column(
        "enterprises", sa.Column("bank_account_number", sa.String(length=40), nullable=True)
    )

    op.add_column(
        "programmes",
        sa.Column("group_cap", sa.Boolean(), server_default=sa.false(), nullable=False),
    )

    op.add_column("providers", sa.Column("legal_rep_name", sa.String(length=100), nullable=True))
    op.add_column("providers", sa.Column("legal_rep_id_hash", sa.String(length=64), nullable=True))
    op.add_column(
        "providers", sa.Column("legal_rep_id_masked", sa.String(length=32), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("providers", "legal_rep_id_masked")
    op.drop_column("providers", "legal_rep_id_hash")
    op.drop_column("providers", "legal_rep_name")

    op.drop_column("programmes", "group_cap")

    op.drop_column("enterprises", "bank_account_number")
    op.drop_column("enterprises", "registered_address")
    op.drop_column("enterprises", "legal_rep_id_masked")
    op.drop_column("enterprises", "legal_rep_id_hash")
    op.drop_column("enterprises", "legal_rep_name")

    with op.batch_alter_table("party_attributes", schema=None) as batch_op:
        batch_op.drop_index("ix_party_attributes_lookup")

    op.drop_table("party_attributes")
