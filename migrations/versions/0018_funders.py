"""funders and their shares: treasuries, programme shares and funder budgets, the funders'
parts of every hold, and the funder leg of the ledger

Revision ID: 0018
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0018"
down_revision = "0020"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = marketplace.db.UTCDateTime(timezone=True)

_OLD_KINDS = (
    "programme_funding",
    "budget_available",
    "budget_committed",
    "budget_spent",
    "vouchers_issued",
    "voucher_balance",
    "voucher_held",
    "provider_payable",
    "provider_paid",
)
_FUNDER_KINDS = ("funder_granted", "funder_available", "funder_held", "funder_spent")
_KIND_CHECK = "ck_ledger_accounts_kind"
_FUNDER_CHECK = "ck_ledger_accounts_funder_kind_has_funder"
_FUNDER_CHECK_TEXT = (
    "(kind IN ('funder_granted', 'funder_available', 'funder_held', 'funder_spent'))"
    " = (funder_id IS NOT NULL)"
)


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _level(name: str) -> sa.Enum:
    return sa.Enum(
        "province",
        "prefecture",
        "county",
        name=name,
        native_enum=False,
        create_constraint=True,
        length=18,
    )


def _rewrite_sqlite_kind_check(new: bool) -> None:
    """SQLite cannot alter a CHECK: rewrite the table's stored definition in place (as 0014
    does for the vouchers), then let SQLite verify the whole file."""
    bind = op.get_bind()
    sql = bind.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type='table' AND name='ledger_accounts'")
    )
    old_text, new_text = _kinds(_OLD_KINDS), _kinds(_OLD_KINDS + _FUNDER_KINDS)
    before, after = (old_text, new_text) if new else (new_text, old_text)
    clause = f"CONSTRAINT {_KIND_CHECK} CHECK ({before})"
    if clause not in sql:
        raise RuntimeError("ledger_accounts: the kind CHECK is not as expected; cannot rewrite it")
    sql = sql.replace(clause, f"CONSTRAINT {_KIND_CHECK} CHECK ({after})")
    version = int(bind.scalar(sa.text("PRAGMA schema_version")))
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type='table' AND name='ledger_accounts'"
        ),
        {"sql": sql},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    if bind.scalar(sa.text("PRAGMA integrity_check")) != "ok":
        raise RuntimeError("ledger_accounts: the schema rewrite left the database inconsistent")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "funders",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("level", _level("level"), nullable=False),
        sa.Column("bank_account_name", sa.String(length=200), nullable=True),
        sa.Column("bank_name", sa.String(length=200), nullable=True),
        sa.Column("bank_account_number", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint("length(region_code) = 6", name=op.f("ck_funders_region_code_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funders")),
        sa.UniqueConstraint("region_code", name=op.f("uq_funders_region_code")),
    )
    op.create_table(
        "programme_funder_shares",
        sa.Column("programme_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=False),
        sa.Column("funder_id", ID, nullable=True),
        sa.Column("home_level", _level("home_level"), nullable=True),
        sa.Column("id", ID, nullable=False),
        sa.CheckConstraint(
            "(funder_id IS NULL) <> (home_level IS NULL)",
            name=op.f("ck_programme_funder_shares_funder_or_home"),
        ),
        sa.CheckConstraint(
            "home_level IS NULL OR home_level <> 'province'",
            name=op.f("ck_programme_funder_shares_home_below_province"),
        ),
        sa.CheckConstraint(
            "position > 0", name=op.f("ck_programme_funder_shares_position_positive")
        ),
        sa.CheckConstraint(
            "share_bps > 0 AND share_bps <= 10000",
            name=op.f("ck_programme_funder_shares_share_range"),
        ),
        sa.ForeignKeyConstraint(
            ["funder_id"],
            ["funders.id"],
            name=op.f("fk_programme_funder_shares_funder_id_funders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_funder_shares_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_funder_shares")),
        sa.UniqueConstraint(
            "programme_id",
            "position",
            name=op.f("uq_programme_funder_shares_programme_id_position"),
        ),
    )
    with op.batch_alter_table("programme_funder_shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_programme_funder_shares_funder_id"), ["funder_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_programme_funder_shares_programme_id"), ["programme_id"], unique=False
        )
    op.create_table(
        "programme_funder_budgets",
        sa.Column("programme_id", ID, nullable=False),
        sa.Column("funder_id", ID, nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.CheckConstraint(
            "budget_fen >= 0", name=op.f("ck_programme_funder_budgets_budget_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["funder_id"],
            ["funders.id"],
            name=op.f("fk_programme_funder_budgets_funder_id_funders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_funder_budgets_programme_id_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_funder_budgets")),
        sa.UniqueConstraint(
            "programme_id",
            "funder_id",
            name=op.f("uq_programme_funder_budgets_programme_id_funder_id"),
        ),
    )
    with op.batch_alter_table("programme_funder_budgets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_programme_funder_budgets_funder_id"), ["funder_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_programme_funder_budgets_programme_id"), ["programme_id"], unique=False
        )
    op.create_table(
        "hold_funder_parts",
        sa.Column("hold_id", ID, nullable=False),
        sa.Column("funder_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=False),
        sa.Column("held_fen", sa.BigInteger(), nullable=False),
        sa.Column("captured_fen", sa.BigInteger(), nullable=False),
        sa.Column("released_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.CheckConstraint(
            "held_fen >= 0 AND captured_fen >= 0 AND released_fen >= 0",
            name=op.f("ck_hold_funder_parts_parts_non_negative"),
        ),
        sa.CheckConstraint(
            "captured_fen + released_fen <= held_fen",
            name=op.f("ck_hold_funder_parts_resolved_within_held"),
        ),
        sa.ForeignKeyConstraint(
            ["funder_id"],
            ["funders.id"],
            name=op.f("fk_hold_funder_parts_funder_id_funders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["voucher_holds.id"],
            name=op.f("fk_hold_funder_parts_hold_id_voucher_holds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_funder_parts")),
        sa.UniqueConstraint(
            "hold_id", "funder_id", name=op.f("uq_hold_funder_parts_hold_id_funder_id")
        ),
    )
    with op.batch_alter_table("hold_funder_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hold_funder_parts_funder_id"), ["funder_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hold_funder_parts_hold_id"), ["hold_id"], unique=False)

    # programmes.co_funded: every existing programme has one funder (or none named).
    if sqlite:
        op.execute("ALTER TABLE programmes ADD COLUMN co_funded BOOLEAN DEFAULT 0 NOT NULL")
    else:
        op.add_column(
            "programmes",
            sa.Column("co_funded", sa.Boolean(), server_default=sa.false(), nullable=False),
        )

    # The funder leg: ledger_accounts.funder_id, its CHECK and the four new account kinds.
    if sqlite:
        op.execute(
            "ALTER TABLE ledger_accounts ADD COLUMN funder_id INTEGER CONSTRAINT "
            "fk_ledger_accounts_funder_id_funders REFERENCES funders (id) "
            f"CONSTRAINT {_FUNDER_CHECK} CHECK ({_FUNDER_CHECK_TEXT})"
        )
        _rewrite_sqlite_kind_check(True)
    else:
        op.add_column("ledger_accounts", sa.Column("funder_id", ID, nullable=True))
        op.create_foreign_key(
            op.f("fk_ledger_accounts_funder_id_funders"),
            "ledger_accounts",
            "funders",
            ["funder_id"],
            ["id"],
        )
        op.create_check_constraint(op.f(_FUNDER_CHECK), "ledger_accounts", _FUNDER_CHECK_TEXT)
        op.drop_constraint(op.f(_KIND_CHECK), "ledger_accounts", type_="check")
        op.create_check_constraint(
            op.f(_KIND_CHECK), "ledger_accounts", _kinds(_OLD_KINDS + _FUNDER_KINDS)
        )
    op.create_index(
        op.f("ix_ledger_accounts_funder_id"), "ledger_accounts", ["funder_id"], unique=False
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index(op.f("ix_ledger_accounts_funder_id"), table_name="ledger_accounts")
    if sqlite:
        _rewrite_sqlite_kind_check(False)
        op.execute("ALTER TABLE ledger_accounts DROP COLUMN funder_id")
        op.execute("ALTER TABLE programmes DROP COLUMN co_funded")
    else:
        op.drop_constraint(op.f(_KIND_CHECK), "ledger_accounts", type_="check")
        op.create_check_constraint(op.f(_KIND_CHECK), "ledger_accounts", _kinds(_OLD_KINDS))
        op.drop_constraint(op.f(_FUNDER_CHECK), "ledger_accounts", type_="check")
        op.drop_constraint(
            op.f("fk_ledger_accounts_funder_id_funders"), "ledger_accounts", type_="foreignkey"
        )
        op.drop_column("ledger_accounts", "funder_id")
        op.drop_column("programmes", "co_funded")
    for table, columns in (
        ("hold_funder_parts", ("hold_id", "funder_id")),
        ("programme_funder_budgets", ("programme_id", "funder_id")),
        ("programme_funder_shares", ("programme_id", "funder_id")),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
    op.drop_table("funders")
