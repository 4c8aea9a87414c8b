"""payout batches per paying treasury: the batch's funder and the account it pays from, each
payout item's funder, and the funder leg's ``funder_paid`` account kind

Expand-only: nullable columns (the previous release builds batches without a funder, which
the new release reads as "programmes paid from their own budget", as before) and a wider
account-kind CHECK (the previous release never writes ``funder_paid``).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_KINDS_BEFORE = (
    "programme_funding",
    "budget_available",
    "budget_committed",
    "budget_spent",
    "vouchers_issued",
    "voucher_balance",
    "voucher_held",
    "provider_payable",
    "provider_paid",
    "funder_granted",
    "funder_available",
    "funder_held",
    "funder_spent",
)
_FUNDER_BEFORE = ("funder_granted", "funder_available", "funder_held", "funder_spent")
_KIND_CHECK = "ck_ledger_accounts_kind"
_FUNDER_CHECK = "ck_ledger_accounts_funder_kind_has_funder"


def _in(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _checks(paid: bool) -> dict[str, str]:
    """The two CHECKs of ``ledger_accounts`` naming account kinds, with or without
    ``funder_paid`` (the texts 0018 wrote)."""
    extra = ("funder_paid",) if paid else ()
    return {
        _KIND_CHECK: _in(_KINDS_BEFORE + extra),
        _FUNDER_CHECK: f"({_in(_FUNDER_BEFORE + extra)}) = (funder_id IS NOT NULL)",
    }


def _rewrite_sqlite_checks(paid: bool) -> None:
    """SQLite cannot alter a CHECK: rewrite the stored table definition in place (as 0014 and
    0018 do), then let SQLite verify the whole file."""
    bind = op.get_bind()
    sql = bind.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type='table' AND name='ledger_accounts'")
    )
    before, after = _checks(not paid), _checks(paid)
    for name in (_KIND_CHECK, _FUNDER_CHECK):
        clause = f"CONSTRAINT {name} CHECK ({before[name]})"
        if clause not in sql:
            raise RuntimeError(f"ledger_accounts: {name} is not as expected; cannot rewrite it")
        sql = sql.replace(clause, f"CONSTRAINT {name} CHECK ({after[name]})")
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
    for table in ("payout_batches", "payout_items"):
        if sqlite:
            # In place (no table copy): SQLite adds a column with its REFERENCES clause.
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN funder_id INTEGER CONSTRAINT "
                f"fk_{table}_funder_id_funders REFERENCES funders (id)"
            )
        else:
            op.add_column(table, sa.Column("funder_id", ID, nullable=True))
            op.create_foreign_key(
                op.f(f"fk_{table}_funder_id_funders"), table, "funders", ["funder_id"], ["id"]
            )
        op.create_index(op.f(f"ix_{table}_funder_id"), table, ["funder_id"], unique=False)
    op.add_column("payout_batches", sa.Column("payer_name", sa.String(200), nullable=True))
    op.add_column("payout_batches", sa.Column("payer_bank_name", sa.String(200), nullable=True))
    op.add_column("payout_batches", sa.Column("payer_account_number", sa.String(40), nullable=True))
    if sqlite:
        _rewrite_sqlite_checks(True)
    else:
        # Widening only (reviewed in tests/integration/test_expand_contract.py WIDENING): each
        # CHECK is dropped and created again with one more kind in the same transaction.
        for name, text in _checks(True).items():
            op.drop_constraint(op.f(name), "ledger_accounts", type_="check")
            op.create_check_constraint(op.f(name), "ledger_accounts", text)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _rewrite_sqlite_checks(False)
    else:
        for name, text in _checks(False).items():
            op.drop_constraint(op.f(name), "ledger_accounts", type_="check")
            op.create_check_constraint(op.f(name), "ledger_accounts", text)
    for column in ("payer_account_number", "payer_bank_name", "payer_name"):
        op.drop_column("payout_batches", column)
    for table in ("payout_items", "payout_batches"):
        op.drop_index(op.f(f"ix_{table}_funder_id"), table_name=table)
        if sqlite:
            op.execute(f"ALTER TABLE {table} DROP COLUMN funder_id")
        else:
            op.drop_constraint(op.f(f"fk_{table}_funder_id_funders"), table, type_="foreignkey")
            op.drop_column(table, "funder_id")
