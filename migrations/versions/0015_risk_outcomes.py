"""issue 11 (related parties, risk flags, outcomes): the party index, legal representatives,
registered addresses and bank accounts of enterprises, the programmes' group cap

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-06 06:25:23.773970
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


CREDIT_KINDS_BEFORE = ("upheld_dispute", "late_delivery")
CREDIT_KINDS_AFTER = (*CREDIT_KINDS_BEFORE, "irregular_finding")


def _credit_event_kinds(kinds: tuple[str, ...]) -> None:
    """The credit events' kind CHECK with (or without) the irregular audit finding. SQLite
    cannot alter a CHECK: batch mode copies the table with the new one."""
    listed = ", ".join(f"'{k}'" for k in kinds)
    name = op.f("ck_provider_credit_events_kind")
    # The enum's column is as long as its longest value plus 8 (marketplace.db.enum_column).
    length = max(len(k) for k in kinds) + 8
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(name, "provider_credit_events", type_="check")
        op.alter_column("provider_credit_events", "kind", type_=sa.String(length))
        op.create_check_constraint(name, "provider_credit_events", f"kind IN ({listed})")
        return
    with op.batch_alter_table("provider_credit_events", recreate="always") as batch_op:
        batch_op.drop_constraint(name, type_="check")
        batch_op.alter_column("kind", type_=sa.String(length))
        batch_op.create_check_constraint(name, f"kind IN ({listed})")


def _parties() -> None:
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
        # Every lookup gives the kind and value (and often the party kind): the one index
        # that answers "who else has this value" without reading the table.
        batch_op.create_index(
            "ix_party_attributes_lookup",
            ["kind", "value", "party_kind", "party_id"],
            unique=False,
        )

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


def _risk() -> None:
    op.create_table(
        "audit_samples",
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("min_score", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "drawn_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("drawn_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "population >= 0", name=op.f("ck_audit_samples_population_non_negative")
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_audit_samples_size_positive")),
        sa.ForeignKeyConstraint(
            ["drawn_by_id"],
            ["users.id"],
            name=op.f("fk_audit_samples_drawn_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_audit_samples_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_audit_samples_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_samples")),
    )
    op.create_table(
        "risk_settings",
        sa.Column(
            "rule",
            sa.Enum(
                "pair_repeat",
                "under_cap",
                "before_deadline",
                "above_catalogue",
                "above_median",
                "provider_share",
                "same_day",
                "invoice_early",
                "round_price",
                "provider_spike",
                "region_spike",
                "related_party",
                name="rule",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=False,
        ),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("threshold >= 0", name=op.f("ck_risk_settings_threshold_non_negative")),
        sa.CheckConstraint(
            "weight >= 0 AND weight <= 100", name=op.f("ck_risk_settings_weight_range")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_risk_settings_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_settings")),
        sa.UniqueConstraint("rule", name=op.f("uq_risk_settings_rule")),
    )
    op.create_table(
        "audit_sample_items",
        sa.Column(
            "sample_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_audit_sample_items_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["audit_samples.id"],
            name=op.f("fk_audit_sample_items_sample_id_audit_samples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_sample_items")),
        sa.UniqueConstraint(
            "sample_id", "order_id", name=op.f("uq_audit_sample_items_sample_id_order_id")
        ),
        sa.UniqueConstraint(
            "sample_id", "position", name=op.f("uq_audit_sample_items_sample_id_position")
        ),
    )
    with op.batch_alter_table("audit_sample_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_sample_items_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "order_risks",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("assessed_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 100", name=op.f("ck_order_risks_score_range")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_risks_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_order_risks_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_order_risks_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_risks")),
        sa.UniqueConstraint("order_id", name=op.f("uq_order_risks_order_id")),
    )
    with op.batch_alter_table("order_risks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_risks_programme_id"), ["programme_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_risks_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_risks_score"), ["score"], unique=False)

    op.create_table(
        "risk_flags",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "rule",
            sa.Enum(
                "pair_repeat",
                "under_cap",
                "before_deadline",
                "above_catalogue",
                "above_median",
                "provider_share",
                "same_day",
                "invoice_early",
                "round_price",
                "provider_spike",
                "region_spike",
                "related_party",
                name="rule",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=False,
        ),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("explanation_zh", sa.Text(), nullable=False),
        sa.Column("explanation_en", sa.Text(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("raised_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_risk_flags_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_flags")),
        sa.UniqueConstraint("order_id", "rule", name=op.f("uq_risk_flags_order_id_rule")),
    )
    with op.batch_alter_table("risk_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_flags_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_flags_rule"), ["rule"], unique=False)

    op.create_table(
        "audit_findings",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "cleared",
                "irregular",
                name="outcome",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column(
            "follow_up",
            sa.Enum(
                "none",
                "blacklist",
                "recovery",
                name="follow_up",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recovery_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "recorded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recorded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "outcome = 'irregular' OR follow_up = 'none'",
            name=op.f("ck_audit_findings_follow_up_only_if_irregular"),
        ),
        sa.CheckConstraint("length(notes) > 0", name=op.f("ck_audit_findings_notes_present")),
        sa.CheckConstraint(
            "recovery_fen >= 0", name=op.f("ck_audit_findings_recovery_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["audit_sample_items.id"],
            name=op.f("fk_audit_findings_item_id_audit_sample_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_audit_findings_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_audit_findings_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_audit_findings_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_findings")),
        sa.UniqueConstraint("item_id", name=op.f("uq_audit_findings_item_id")),
    )
    with op.batch_alter_table("audit_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_findings_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_findings_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_findings_recorded_at"), ["recorded_at"], unique=False
        )

    op.create_table(
        "audit_finding_documents",
        sa.Column(
            "finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("stored_name", sa.String(length=100), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["audit_findings.id"],
            name=op.f("fk_audit_finding_documents_finding_id_audit_findings"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_finding_documents")),
    )
    with op.batch_alter_table("audit_finding_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_finding_documents_finding_id"), ["finding_id"], unique=False
        )


def _drop_risk() -> None:
    with op.batch_alter_table("audit_finding_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_finding_documents_finding_id"))

    op.drop_table("audit_finding_documents")
    with op.batch_alter_table("audit_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_findings_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_audit_findings_provider_id"))
        batch_op.drop_index(batch_op.f("ix_audit_findings_order_id"))

    op.drop_table("audit_findings")
    with op.batch_alter_table("risk_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_flags_rule"))
        batch_op.drop_index(batch_op.f("ix_risk_flags_order_id"))

    op.drop_table("risk_flags")
    with op.batch_alter_table("order_risks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_risks_score"))
        batch_op.drop_index(batch_op.f("ix_order_risks_provider_id"))
        batch_op.drop_index(batch_op.f("ix_order_risks_programme_id"))

    op.drop_table("order_risks")
    with op.batch_alter_table("audit_sample_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_sample_items_order_id"))

    op.drop_table("audit_sample_items")
    op.drop_table("risk_settings")
    op.drop_table("audit_samples")


def _drop_parties() -> None:
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


def _outcomes() -> None:
    op.create_table(
        "order_outcomes",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patents", sa.JSON(), nullable=False),
        sa.Column("patent_count", sa.Integer(), nullable=False),
        sa.Column("certifications", sa.Integer(), nullable=False),
        sa.Column("certification_note", sa.Text(), nullable=False),
        sa.Column("high_tech_recognised", sa.Boolean(), nullable=False),
        sa.Column("new_products", sa.Integer(), nullable=False),
        sa.Column("new_processes", sa.Integer(), nullable=False),
        sa.Column("revenue_effect_fen", sa.BigInteger(), nullable=False),
        sa.Column("cost_effect_fen", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("editable_until", sa.Date(), nullable=False),
        sa.Column(
            "recorded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cost_effect_fen >= 0", name=op.f("ck_order_outcomes_cost_non_negative")
        ),
        sa.CheckConstraint(
            "patent_count >= 0 AND certifications >= 0 AND new_products >= 0 AND new_processes >= 0",
            name=op.f("ck_order_outcomes_counts_non_negative"),
        ),
        sa.CheckConstraint(
            "revenue_effect_fen >= 0", name=op.f("ck_order_outcomes_revenue_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_outcomes_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_order_outcomes_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_outcomes")),
        sa.UniqueConstraint("order_id", name=op.f("uq_order_outcomes_order_id")),
    )


def _drop_outcomes() -> None:
    op.drop_table("order_outcomes")


def upgrade() -> None:
    _parties()
    _risk()
    _credit_event_kinds(CREDIT_KINDS_AFTER)
    _outcomes()


def downgrade() -> None:
    _drop_outcomes()
    op.execute("DELETE FROM provider_credit_events WHERE kind = 'irregular_finding'")
    _credit_event_kinds(CREDIT_KINDS_BEFORE)
    _drop_risk()
    _drop_parties()
