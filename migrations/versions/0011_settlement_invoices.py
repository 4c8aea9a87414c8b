"""settlement on the real invoice (issue 14): four eyes on payout batches

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


def upgrade() -> None:
    _add_columns("payout_batches", PAYOUT_BATCH_COLUMNS)
    _add_columns("payout_lines", PAYOUT_LINE_COLUMNS)


def downgrade() -> None:
    _drop_columns("payout_lines", PAYOUT_LINE_COLUMNS)
    _drop_columns("payout_batches", PAYOUT_BATCH_COLUMNS)
