"""settlement on the real invoice (issue 14): invoice files, red-letter invoices and
recoveries; four eyes on payout batches

* ``invoices``: ``source`` (file or typed; the existing rows were typed), the totals without
  tax and the tax, the tax rates, the parties' names and the item lines read from the file.
* ``invoice_files`` (every uploaded invoice file, SHA-256 UNIQUE), ``red_letter_invoices``
  (number UNIQUE) and ``invoice_recoveries`` (one per paid claim line whose invoice was
  reversed).

* ``payout_batches``: ``four_eyes`` (false for the batches built before, which one officer
  ran; true for every new one), ``needs_second_approval``, ``approved_by_id`` /
  ``approved_at``; ``payout_lines.built_by_id`` (the batch's builder, copied so a CHECK can
  refuse a confirmation by the same person).

SQLite cannot add a table CHECK to an existing table without rebuilding it, and rebuilding
tables referenced by RESTRICT foreign keys inside the migration's transaction is not possible
with foreign keys on. So on SQLite every new CHECK is attached to one of the added columns
(``ALTER TABLE … ADD COLUMN … CONSTRAINT … CHECK``, which SQLite also checks against the
existing rows); the existing rows satisfy them (``four_eyes`` false, nothing approved).
PostgreSQL gets ordinary named CHECK constraints.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 06:30:00.000000
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0011"
down_revision = "0013"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class NewColumn(NamedTuple):
    name: str
    type_: sa.types.TypeEngine[object]
    #: CHECKs attached to this column on SQLite (they may name columns added before it).
    checks: dict[str, str] = {}  # never mutated
    #: NOT NULL with this server default for the existing rows (kept on SQLite, dropped on PG).
    default: str | None = None
    #: ``users`` foreign key, without ON DELETE: SQLite does not reflect the options of a
    #: foreign key added with ADD COLUMN, so the models declare none (a user who approved
    #: or built a payout is kept, never deleted).
    user_fk: bool = False


PAYOUT_BATCH_COLUMNS = (
    NewColumn(
        "four_eyes",
        sa.Boolean(),
        {
            "ck_payout_batches_sender_not_builder": (
                "NOT four_eyes OR sent_by_id IS NULL OR created_by_id IS NULL"
                " OR sent_by_id <> created_by_id"
            ),
            "ck_payout_batches_sent_has_sender": (
                "NOT four_eyes OR status = 'draft' OR sent_by_id IS NOT NULL"
            ),
        },
        default="false",
    ),
    NewColumn("needs_second_approval", sa.Boolean(), default="false"),
    NewColumn(
        "approved_by_id",
        BIG,
        {
            "ck_payout_batches_approver_not_builder": (
                "approved_by_id IS NULL OR created_by_id IS NULL OR approved_by_id <> created_by_id"
            )
        },
        user_fk=True,
    ),
    NewColumn(
        "approved_at",
        marketplace.db.UTCDateTime(timezone=True),
        {
            "ck_payout_batches_approver_not_sender": (
                "approved_by_id IS NULL OR sent_by_id IS NULL OR approved_by_id <> sent_by_id"
            ),
            "ck_payout_batches_large_batch_approved": (
                "NOT needs_second_approval OR status = 'draft' OR approved_by_id IS NOT NULL"
            ),
            "ck_payout_batches_approval_has_time": (
                "approved_by_id IS NULL OR approved_at IS NOT NULL"
            ),
        },
    ),
)
INVOICE_COLUMNS = (
    NewColumn(
        "source",
        sa.String(length=13),
        {"ck_invoices_source": "source IN ('file', 'typed')"},
        default="'typed'",
    ),
    NewColumn("amount_without_tax_fen", sa.BigInteger()),
    NewColumn(
        "tax_fen",
        sa.BigInteger(),
        {
            "ck_invoices_tax_adds_up": (
                "tax_fen IS NULL OR amount_without_tax_fen + tax_fen = amount_fen"
            )
        },
    ),
    NewColumn("tax_rates", sa.String(length=60)),
    NewColumn("seller_name", sa.String(length=200)),
    NewColumn("buyer_name", sa.String(length=200)),
    NewColumn(
        "verification",
        sa.String(length=19),
        {
            "ck_invoices_verification": (
                "verification IN ('unchecked', 'verified', 'not_found', 'mismatch', "
                "'reversed', 'unavailable')"
            )
        },
        default="'unchecked'",
    ),
    NewColumn("verified_at", marketplace.db.UTCDateTime(timezone=True)),
    NewColumn(
        "items",
        sa.JSON(),
        {
            "ck_invoices_file_has_tax": (
                "source <> 'file' OR (tax_fen IS NOT NULL AND items IS NOT NULL)"
            )
        },
    ),
)
PAYOUT_LINE_COLUMNS = (
    NewColumn(
        "built_by_id",
        BIG,
        {
            "ck_payout_lines_confirmer_not_builder": (
                "confirmed_by_id IS NULL OR built_by_id IS NULL OR confirmed_by_id <> built_by_id"
            )
        },
        user_fk=True,
    ),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _add_columns(table: str, columns: tuple[NewColumn, ...]) -> None:
    sqlite = _sqlite()
    for column in columns:
        fk_name = f"fk_{table}_{column.name}_users"
        if sqlite:
            rendered = column.type_.compile(dialect=op.get_bind().dialect)
            ddl = f"{column.name} {rendered}"
            if column.default is not None:
                ddl += f" DEFAULT {0 if column.default == 'false' else column.default} NOT NULL"
            if column.user_fk:
                ddl += f" CONSTRAINT {fk_name} REFERENCES users (id)"
            ddl += "".join(f" CONSTRAINT {ck} CHECK ({expr})" for ck, expr in column.checks.items())
            op.execute(f"ALTER TABLE {table} ADD COLUMN {ddl}")
            continue
        op.add_column(
            table,
            sa.Column(
                column.name,
                column.type_,
                nullable=column.default is None,
                server_default=sa.text(column.default) if column.default is not None else None,
            ),
        )
        if column.default is not None:
            # The default was for the rows already there; new rows get theirs from the model.
            op.alter_column(table, column.name, server_default=None)
        if column.user_fk:
            op.create_foreign_key(op.f(fk_name), table, "users", [column.name], ["id"])
    if not sqlite:
        for column in columns:
            for ck, expr in column.checks.items():
                op.create_check_constraint(op.f(ck), table, expr)


def _drop_columns(table: str, columns: tuple[NewColumn, ...]) -> None:
    sqlite = _sqlite()
    for column in reversed(columns):
        if sqlite:
            # The column's own CHECKs and foreign key go with it (SQLite ≥ 3.35).
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
            continue
        for ck in column.checks:
            op.drop_constraint(op.f(ck), table, type_="check")
        if column.user_fk:
            op.drop_constraint(op.f(f"fk_{table}_{column.name}_users"), table, type_="foreignkey")
        op.drop_column(table, column.name)


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG, nullable=False)


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _create_tables() -> None:
    op.create_table(
        "red_letter_invoices",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reverses_number", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("tax_fen", sa.BigInteger(), nullable=False),
        sa.Column("seller_taxpayer_id", sa.String(length=20), nullable=False),
        sa.Column("buyer_taxpayer_id", sa.String(length=20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("invoice_id", BIG, nullable=True),
        sa.Column("uploaded_by_id", BIG, nullable=True),
        sa.Column("uploaded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.CheckConstraint("total_fen < 0", name=op.f("ck_red_letter_invoices_negative")),
        _fk("invoice_id", "red_letter_invoices", "invoices", "RESTRICT"),
        _fk("uploaded_by_id", "red_letter_invoices", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_letter_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_red_letter_invoices_number")),
    )
    op.create_index(
        op.f("ix_red_letter_invoices_reverses_number"), "red_letter_invoices", ["reverses_number"]
    )
    op.create_index(
        op.f("ix_red_letter_invoices_invoice_id"), "red_letter_invoices", ["invoice_id"]
    )
    op.create_table(
        "invoice_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "xml",
                "ofd",
                "pdf",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=11,
            ),
            nullable=False,
        ),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("invoice_id", BIG, nullable=True),
        sa.Column("red_letter_id", BIG, nullable=True),
        sa.Column("uploaded_by_id", BIG, nullable=True),
        sa.Column("uploaded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.CheckConstraint(
            "(invoice_id IS NULL) <> (red_letter_id IS NULL)",
            name=op.f("ck_invoice_files_one_owner"),
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_invoice_files_not_empty")),
        _fk("invoice_id", "invoice_files", "invoices", "RESTRICT"),
        _fk("red_letter_id", "invoice_files", "red_letter_invoices", "RESTRICT"),
        _fk("uploaded_by_id", "invoice_files", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_invoice_files_sha256")),
    )
    op.create_index(op.f("ix_invoice_files_invoice_id"), "invoice_files", ["invoice_id"])
    op.create_index(op.f("ix_invoice_files_red_letter_id"), "invoice_files", ["red_letter_id"])
    op.create_table(
        "invoice_recoveries",
        sa.Column("claim_line_id", BIG, nullable=False),
        sa.Column("order_id", BIG, nullable=False),
        sa.Column("provider_id", BIG, nullable=False),
        sa.Column("programme_id", BIG, nullable=False),
        sa.Column("red_letter_id", BIG, nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_invoice_recoveries_amount_positive")),
        _fk("claim_line_id", "invoice_recoveries", "claim_lines", "RESTRICT"),
        _fk("order_id", "invoice_recoveries", "orders", "RESTRICT"),
        _fk("provider_id", "invoice_recoveries", "providers", "RESTRICT"),
        _fk("programme_id", "invoice_recoveries", "programmes", "RESTRICT"),
        _fk("red_letter_id", "invoice_recoveries", "red_letter_invoices", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_recoveries")),
        sa.UniqueConstraint("claim_line_id", name=op.f("uq_invoice_recoveries_claim_line_id")),
    )
    for column in ("order_id", "provider_id", "red_letter_id"):
        op.create_index(op.f(f"ix_invoice_recoveries_{column}"), "invoice_recoveries", [column])


def upgrade() -> None:
    _add_columns("invoices", INVOICE_COLUMNS)
    _create_tables()
    _add_columns("payout_batches", PAYOUT_BATCH_COLUMNS)
    _add_columns("payout_lines", PAYOUT_LINE_COLUMNS)


def downgrade() -> None:
    _drop_columns("payout_lines", PAYOUT_LINE_COLUMNS)
    _drop_columns("payout_batches", PAYOUT_BATCH_COLUMNS)
    for table in ("invoice_recoveries", "invoice_files", "red_letter_invoices"):
        op.drop_table(table)
    _drop_columns("invoices", INVOICE_COLUMNS)
