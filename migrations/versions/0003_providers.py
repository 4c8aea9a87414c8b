"""providers: admission file, qualifications, documents, commitment, history, participation,
objections, the service catalogue with trigram search, ratings, assessments, credit events,
related-party declarations

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 22:17:46.387618

SQLite cannot add a CHECK constraint to an existing table without rebuilding it, and rebuilding
``providers`` (referenced by ``users``) fails once rows exist, so the new ``providers`` columns
are added with column-level CHECKs by plain ``ALTER TABLE`` there; PostgreSQL gets the same
named constraints through Alembic.

Search (providers/search.py): PostgreSQL gets ``pg_trgm`` and a GIN trigram index on
``services.search_text``; SQLite an FTS5 table with the trigram tokenizer over the same column,
kept in step by triggers. Both exist only in the database (migrations/filters.py tells the
drift check to ignore them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

ACCREDITATION_LEVELS = ("national", "provincial", "municipal")

#: (name, SQLite column DDL, factory of the PostgreSQL column: a Column belongs to one Table,
#: and one process may migrate many databases, so each run builds its own)
PROVIDER_COLUMNS = [
    (
        "accreditation_level",
        "VARCHAR(18) CONSTRAINT ck_providers_accreditation_level"
        " CHECK (accreditation_level IN ('national', 'provincial', 'municipal'))",
        lambda: sa.Column(
            "accreditation_level",
            sa.Enum(
                *ACCREDITATION_LEVELS,
                name="accreditation_level",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=True,
        ),
    ),
    ("description", "TEXT", lambda: sa.Column("description", sa.Text(), nullable=True)),
    ("address", "VARCHAR(300)", lambda: sa.Column("address", sa.String(length=300), nullable=True)),
    ("website", "VARCHAR(300)", lambda: sa.Column("website", sa.String(length=300), nullable=True)),
    (
        "service_categories",
        "JSON DEFAULT '[]' NOT NULL",
        lambda: sa.Column(
            "service_categories", sa.JSON(), server_default=sa.text("'[]'"), nullable=False
        ),
    ),
    (
        "bank_account_name",
        "VARCHAR(200)",
        lambda: sa.Column("bank_account_name", sa.String(length=200), nullable=True),
    ),
    (
        "bank_name",
        "VARCHAR(200)",
        lambda: sa.Column("bank_name", sa.String(length=200), nullable=True),
    ),
    (
        "bank_account_number",
        "VARCHAR(40)",
        lambda: sa.Column("bank_account_number", sa.String(length=40), nullable=True),
    ),
    (
        "submitted_at",
        "DATETIME",
        lambda: sa.Column("submitted_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
    ),
    ("notice_starts_on", "DATE", lambda: sa.Column("notice_starts_on", sa.Date(), nullable=True)),
    ("notice_ends_on", "DATE", lambda: sa.Column("notice_ends_on", sa.Date(), nullable=True)),
    (
        "admitted_at",
        "DATETIME",
        lambda: sa.Column("admitted_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
    ),
    ("status_reason", "TEXT", lambda: sa.Column("status_reason", sa.Text(), nullable=True)),
    (
        "status_changed_at",
        "DATETIME",
        lambda: sa.Column(
            "status_changed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True
        ),
    ),
    (
        "credit_score",
        "INTEGER DEFAULT 75 NOT NULL CONSTRAINT ck_providers_credit_score_range"
        " CHECK (credit_score >= 0 AND credit_score <= 100)",
        lambda: sa.Column(
            "credit_score", sa.Integer(), server_default=sa.text("75"), nullable=False
        ),
    ),
    (
        "version",
        "INTEGER DEFAULT 1 NOT NULL",
        lambda: sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
    ),
]

FTS_SQLITE = [
    "CREATE VIRTUAL TABLE services_fts USING fts5("
    "search_text, content='services', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER services_fts_insert AFTER INSERT ON services BEGIN"
    " INSERT INTO services_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER services_fts_delete AFTER DELETE ON services BEGIN"
    " INSERT INTO services_fts(services_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER services_fts_update AFTER UPDATE OF search_text ON services BEGIN"
    " INSERT INTO services_fts(services_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text);"
    " INSERT INTO services_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _add_provider_columns() -> None:
    for name, sqlite_ddl, column in PROVIDER_COLUMNS:
        if _sqlite():
            op.execute(f"ALTER TABLE providers ADD COLUMN {name} {sqlite_ddl}")
        else:
            op.add_column("providers", column())
    if not _sqlite():
        op.create_check_constraint(
            op.f("ck_providers_credit_score_range"),
            "providers",
            "credit_score >= 0 AND credit_score <= 100",
        )
    op.create_index(op.f("ix_providers_notice_ends_on"), "providers", ["notice_ends_on"])


def _drop_provider_columns() -> None:
    op.drop_index(op.f("ix_providers_notice_ends_on"), table_name="providers")
    for name, _ddl, _column in reversed(PROVIDER_COLUMNS):
        if _sqlite():
            # Native DROP COLUMN (SQLite >= 3.35): no table rebuild; the column's own CHECK
            # goes with it.
            op.execute(f"ALTER TABLE providers DROP COLUMN {name}")
        else:
            op.drop_column("providers", name)


def upgrade() -> None:
    _add_provider_columns()
    op.create_table(
        "programme_participations",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "programme_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "applied",
                "admitted",
                "rejected",
                "withdrawn",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_participations_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_programme_participations_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_participations")),
        sa.UniqueConstraint(
            "provider_id",
            "programme_id",
            name=op.f("uq_programme_participations_provider_id_programme_id"),
        ),
    )
    op.create_index(
        op.f("ix_programme_participations_programme_id"),
        "programme_participations",
        ["programme_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_programme_participations_provider_id"),
        "programme_participations",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_qualifications",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "cma",
                "cnas",
                "patent_agency",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_qualifications_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_qualifications")),
        sa.UniqueConstraint("kind", "number", name=op.f("uq_provider_qualifications_kind_number")),
        sa.UniqueConstraint(
            "provider_id", "kind", name=op.f("uq_provider_qualifications_provider_id_kind")
        ),
    )
    op.create_index(
        op.f("ix_provider_qualifications_provider_id"),
        "provider_qualifications",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "services",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "testing",
                "ip",
                "rnd",
                "instrument_sharing",
                "consulting",
                "evaluation",
                "audit",
                "tech_transaction",
                "financing",
                "high_tech_cert",
                "transformation",
                name="category",
                native_enum=False,
                create_constraint=True,
                length=26,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "pricing",
            sa.Enum(
                "fixed",
                "quote",
                name="pricing",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=False,
        ),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_total", sa.Integer(), nullable=False),
        sa.Column("rating_avg_x100", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(pricing = 'fixed' AND price_fen IS NOT NULL AND price_fen > 0) OR (pricing = 'quote' AND price_fen IS NULL)",
            name=op.f("ck_services_price_matches_pricing"),
        ),
        sa.CheckConstraint("lead_time_days > 0", name=op.f("ck_services_lead_time_positive")),
        sa.CheckConstraint(
            "rating_avg_x100 >= 0 AND rating_avg_x100 <= 500",
            name=op.f("ck_services_rating_avg_range"),
        ),
        sa.CheckConstraint(
            "rating_count >= 0 AND rating_total >= rating_count AND rating_total <= 5 * rating_count",
            name=op.f("ck_services_rating_counters"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_services_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_index(op.f("ix_services_category"), "services", ["category"], unique=False)
    op.create_index(op.f("ix_services_provider_id"), "services", ["provider_id"], unique=False)
    op.create_table(
        "instrument_listings",
        sa.Column(
            "service_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("instrument_name", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("hourly_rate_fen", sa.BigInteger(), nullable=False),
        sa.Column("booking_notes", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "hourly_rate_fen > 0", name=op.f("ck_instrument_listings_rate_positive")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_instrument_listings_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_listings")),
        sa.UniqueConstraint("service_id", name=op.f("uq_instrument_listings_service_id")),
    )

    op.create_table(
        "participation_changes",
        sa.Column(
            "participation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "applied",
                "admitted",
                "rejected",
                "withdrawn",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "applied",
                "admitted",
                "rejected",
                "withdrawn",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("occurred_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "reason IS NOT NULL OR to_status IN ('applied', 'admitted')",
            name=op.f("ck_participation_changes_reason_required"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_participation_changes_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["participation_id"],
            ["programme_participations.id"],
            name=op.f("fk_participation_changes_participation_id_programme_participations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_changes")),
    )
    op.create_index(
        op.f("ix_participation_changes_participation_id"),
        "participation_changes",
        ["participation_id"],
        unique=False,
    )
    op.create_table(
        "provider_assessments",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "assessor_kind",
            sa.Enum(
                "administrator",
                "third_party",
                name="assessor_kind",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("evaluator_name", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("report_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "recorded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "score >= 0 AND score <= 100", name=op.f("ck_provider_assessments_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_assessments_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_provider_assessments_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_assessments")),
    )
    op.create_index(
        op.f("ix_provider_assessments_provider_id"),
        "provider_assessments",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_credit_commitments",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("text_version", sa.String(length=20), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("signer_name", sa.String(length=100), nullable=False),
        sa.Column("signer_title", sa.String(length=100), nullable=False),
        sa.Column(
            "signed_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("signed_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_credit_commitments_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"],
            ["users.id"],
            name=op.f("fk_provider_credit_commitments_signed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credit_commitments")),
        sa.UniqueConstraint(
            "provider_id",
            "text_version",
            name=op.f("uq_provider_credit_commitments_provider_id_text_version"),
        ),
    )
    op.create_index(
        op.f("ix_provider_credit_commitments_provider_id"),
        "provider_credit_commitments",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_credit_events",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "upheld_dispute",
                "late_delivery",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "recorded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recorded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_credit_events_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_provider_credit_events_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credit_events")),
        sa.UniqueConstraint(
            "provider_id",
            "kind",
            "order_ref",
            name=op.f("uq_provider_credit_events_provider_id_kind_order_ref"),
        ),
    )
    op.create_index(
        op.f("ix_provider_credit_events_provider_id"),
        "provider_credit_events",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_documents",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "business_licence",
                "accreditation",
                "cma_certificate",
                "cnas_certificate",
                "patent_agency_licence",
                "other",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=29,
            ),
            nullable=False,
        ),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column(
            "uploaded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("uploaded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_provider_documents_size_positive")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_documents_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_provider_documents_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_documents")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_provider_documents_stored_name")),
    )
    op.create_index(
        op.f("ix_provider_documents_provider_id"),
        "provider_documents",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_objections",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("objector_name", sa.String(length=100), nullable=False),
        sa.Column("objector_contact", sa.String(length=200), nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("filed_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "upheld",
                "dismissed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column(
            "decided_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "status = 'open' OR (decision_reason IS NOT NULL AND decided_at IS NOT NULL)",
            name=op.f("ck_provider_objections_decision_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_provider_objections_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_objections_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_objections")),
    )
    op.create_index(
        op.f("ix_provider_objections_provider_id"),
        "provider_objections",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_related_parties",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "relation",
            sa.Enum(
                "shareholder",
                "subsidiary",
                "common_control",
                "key_personnel",
                "other",
                name="relation",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "declared_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("declared_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "withdrawn_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "length(credit_code) = 18", name=op.f("ck_provider_related_parties_credit_code_length")
        ),
        sa.CheckConstraint(
            "withdrawn_at IS NULL OR withdrawal_reason IS NOT NULL",
            name=op.f("ck_provider_related_parties_withdrawal_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["declared_by_id"],
            ["users.id"],
            name=op.f("fk_provider_related_parties_declared_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_related_parties_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["users.id"],
            name=op.f("fk_provider_related_parties_withdrawn_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_related_parties")),
        sa.UniqueConstraint(
            "provider_id",
            "credit_code",
            name=op.f("uq_provider_related_parties_provider_id_credit_code"),
        ),
    )
    op.create_index(
        op.f("ix_provider_related_parties_credit_code"),
        "provider_related_parties",
        ["credit_code"],
        unique=False,
    )
    op.create_index(
        op.f("ix_provider_related_parties_provider_id"),
        "provider_related_parties",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "provider_status_changes",
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "action",
            sa.Enum(
                "submit",
                "pass_to_notice",
                "reject",
                "uphold_objection",
                "admit",
                "suspend",
                "reinstate",
                "revoke",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "pending",
                "in_notice",
                "admitted",
                "rejected",
                "suspended",
                "revoked",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "pending",
                "in_notice",
                "admitted",
                "rejected",
                "suspended",
                "revoked",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("occurred_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "reason IS NOT NULL OR action IN ('submit', 'pass_to_notice', 'admit')",
            name=op.f("ck_provider_status_changes_reason_required"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_provider_status_changes_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_status_changes_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_status_changes")),
    )
    op.create_index(
        op.f("ix_provider_status_changes_provider_id"),
        "provider_status_changes",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "service_ratings",
        sa.Column(
            "service_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "stars >= 1 AND stars <= 5", name=op.f("ck_service_ratings_stars_range")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_service_ratings_enterprise_id_enterprises"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_service_ratings_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_ratings_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_ratings")),
        sa.UniqueConstraint(
            "enterprise_id", "order_ref", name=op.f("uq_service_ratings_enterprise_id_order_ref")
        ),
    )
    op.create_index(
        op.f("ix_service_ratings_enterprise_id"), "service_ratings", ["enterprise_id"], unique=False
    )
    op.create_index(
        op.f("ix_service_ratings_provider_id"), "service_ratings", ["provider_id"], unique=False
    )
    op.create_index(
        op.f("ix_service_ratings_service_id"), "service_ratings", ["service_id"], unique=False
    )

    if _sqlite():
        for statement in FTS_SQLITE:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_services_search_text_trgm ON services"
            " USING gin (search_text gin_trgm_ops)"
        )


def downgrade() -> None:
    if _sqlite():
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS services_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS services_fts")
    else:
        # pg_trgm stays installed: other objects may use it, and it is harmless.
        op.execute("DROP INDEX IF EXISTS ix_services_search_text_trgm")
    op.drop_table("service_ratings")
    op.drop_table("provider_status_changes")
    op.drop_table("provider_related_parties")
    op.drop_table("provider_objections")
    op.drop_table("provider_documents")
    op.drop_table("provider_credit_events")
    op.drop_table("provider_credit_commitments")
    op.drop_table("provider_assessments")
    op.drop_table("participation_changes")
    op.drop_table("instrument_listings")
    op.drop_table("services")
    op.drop_table("provider_qualifications")
    op.drop_table("programme_participations")
    _drop_provider_columns()
