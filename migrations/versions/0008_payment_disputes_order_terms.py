"""chargebacks (payment disputes) and the service terms an order was agreed on

* ``payment_disputes``: one row per gateway dispute (Stripe ``charge.dispute.*``);
  ``payments.disputed_fen``: the open and lost disputes' total, withheld from what counts as
  received / refundable.
* ``orders.agreed_*``: the service's title, category, description, unit and lead time, copied
  when the SME accepts the agreement. Existing accepted orders are backfilled from their
  service; for orders already paid the lead time is the one that was applied at payment
  (``due_on`` − the payment's date in China), which is closer to what was agreed than the
  service's current value.

SQLite cannot add a table CHECK to an existing table without rebuilding it, and rebuilding
``orders`` (referenced by RESTRICT foreign keys, inside the migration's transaction) is not
possible with foreign keys on. So on SQLite the single-column CHECKs are attached to the
added columns (``ALTER TABLE … ADD COLUMN … CONSTRAINT … CHECK``), and the one rule that spans
columns, ``ck_orders_accepted_has_terms``, is enforced by two triggers raising the same name.
PostgreSQL gets ordinary named CHECK constraints.

Revision ID: 0008a
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0008a"
down_revision = "0007"
branch_labels = None
depends_on = None

CHINA = timezone(timedelta(hours=8))
CATEGORIES = (
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
)
_IN_CATEGORIES = ", ".join(f"'{c}'" for c in CATEGORIES)

PAYMENT_CHECKS = {
    "ck_payments_disputed_non_negative": "disputed_fen >= 0",
    "ck_payments_disputed_within_amount": "disputed_fen <= amount_fen",
    "ck_payments_disputes_only_when_paid": "disputed_fen = 0 OR status = 'succeeded'",
}
#: Column → (type DDL, its own CHECKs) for the order's agreed terms.
ORDER_COLUMNS: dict[str, tuple[sa.types.TypeEngine[object], dict[str, str]]] = {
    "agreed_title": (sa.String(length=200), {}),
    "agreed_category": (
        sa.String(length=26),
        {"ck_orders_agreed_category": f"agreed_category IN ({_IN_CATEGORIES})"},
    ),
    "agreed_description": (sa.Text(), {}),
    "agreed_unit": (sa.String(length=20), {}),
    "agreed_lead_time_days": (
        sa.Integer(),
        {
            "ck_orders_agreed_lead_time_positive": (
                "agreed_lead_time_days IS NULL OR agreed_lead_time_days > 0"
            )
        },
    ),
}
TERMS_RULE = "ck_orders_accepted_has_terms"
TERMS_CHECK = (
    "agreement_accepted_at IS NULL OR (agreed_title IS NOT NULL"
    " AND agreed_category IS NOT NULL AND agreed_description IS NOT NULL"
    " AND agreed_unit IS NOT NULL AND agreed_lead_time_days IS NOT NULL)"
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _column_ddl(name: str, type_: sa.types.TypeEngine[object], checks: dict[str, str]) -> str:
    rendered = type_.compile(dialect=op.get_bind().dialect)
    constraints = "".join(f" CONSTRAINT {ck} CHECK ({expr})" for ck, expr in checks.items())
    return f"{name} {rendered}{constraints}"


def upgrade() -> None:
    _payment_disputes()
    _order_terms()


def _payment_disputes() -> None:
    op.create_table(
        "payment_disputes",
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "gateway",
            sa.Enum(
                "offline",
                "stripe",
                name="dispute_gateway",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("charge_external_id", sa.String(length=100), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "won",
                "lost",
                "closed",
                name="dispute_status",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column("gateway_status", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("opened_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payment_disputes_amount_positive")),
        sa.CheckConstraint(
            "(status = 'open') = (closed_at IS NULL)",
            name=op.f("ck_payment_disputes_closed_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_disputes_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_disputes")),
        sa.UniqueConstraint(
            "gateway", "external_id", name="uq_payment_disputes_gateway_external_id"
        ),
    )
    op.create_index(
        op.f("ix_payment_disputes_payment_id"), "payment_disputes", ["payment_id"], unique=False
    )
    # Existing payments have no dispute: 0 satisfies every CHECK, so SQLite can add them inline.
    if _sqlite():
        checks = "".join(f" CONSTRAINT {ck} CHECK ({expr})" for ck, expr in PAYMENT_CHECKS.items())
        op.execute(
            f"ALTER TABLE payments ADD COLUMN disputed_fen BIGINT DEFAULT 0 NOT NULL{checks}"
        )
    else:
        op.add_column(
            "payments",
            sa.Column("disputed_fen", sa.BigInteger(), server_default="0", nullable=False),
        )
        for name, expr in PAYMENT_CHECKS.items():
            op.create_check_constraint(op.f(name), "payments", expr)


def _order_terms() -> None:
    sqlite = _sqlite()
    for name, (type_, checks) in ORDER_COLUMNS.items():
        if sqlite:
            op.execute(f"ALTER TABLE orders ADD COLUMN {_column_ddl(name, type_, checks)}")
        else:
            op.add_column("orders", sa.Column(name, type_, nullable=True))
            for ck, expr in checks.items():
                op.create_check_constraint(op.f(ck), "orders", expr)
    _backfill_terms()
    if sqlite:
        missing = (
            "NEW.agreement_accepted_at IS NOT NULL AND (NEW.agreed_title IS NULL"
            " OR NEW.agreed_category IS NULL OR NEW.agreed_description IS NULL"
            " OR NEW.agreed_unit IS NULL OR NEW.agreed_lead_time_days IS NULL)"
        )
        for event in ("insert", "update"):
            op.execute(
                f"CREATE TRIGGER orders_accepted_has_terms_{event} BEFORE {event.upper()} ON orders"
                f" WHEN {missing} BEGIN"
                f" SELECT RAISE(ABORT, 'CHECK constraint failed: {TERMS_RULE}'); END"
            )
    else:
        op.create_check_constraint(op.f(TERMS_RULE), "orders", TERMS_CHECK)


def _backfill_terms() -> None:
    """Accepted orders take their service's terms; paid ones the lead time applied at payment."""
    for column, source in (
        ("agreed_title", "title"),
        ("agreed_category", "category"),
        ("agreed_description", "description"),
        ("agreed_unit", "unit"),
        ("agreed_lead_time_days", "lead_time_days"),
    ):
        op.execute(
            f"UPDATE orders SET {column} = (SELECT s.{source} FROM services s"
            " WHERE s.id = orders.service_id) WHERE agreement_accepted_at IS NOT NULL"
        )
    orders = sa.table(
        "orders",
        sa.column("id", sa.BigInteger()),
        sa.column("agreement_accepted_at", marketplace.db.UTCDateTime(timezone=True)),
        sa.column("paid_at", marketplace.db.UTCDateTime(timezone=True)),
        sa.column("due_on", sa.Date()),
        sa.column("agreed_lead_time_days", sa.Integer()),
    )
    bind = op.get_bind()
    paid = bind.execute(
        sa.select(orders.c.id, orders.c.paid_at, orders.c.due_on).where(
            orders.c.agreement_accepted_at.is_not(None),
            orders.c.paid_at.is_not(None),
            orders.c.due_on.is_not(None),
        )
    ).all()
    for order_id, paid_at, due_on in paid:
        days = _applied_lead_time(paid_at, due_on)
        if days > 0:
            bind.execute(
                orders.update().where(orders.c.id == order_id).values(agreed_lead_time_days=days)
            )


def _applied_lead_time(paid_at: datetime, due_on: date) -> int:
    paid_at = paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=UTC)
    return (due_on - paid_at.astimezone(CHINA).date()).days


def downgrade() -> None:
    sqlite = _sqlite()
    if sqlite:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS orders_accepted_has_terms_{event}")
    else:
        op.drop_constraint(op.f(TERMS_RULE), "orders", type_="check")
    for name, (_type, checks) in reversed(ORDER_COLUMNS.items()):
        if sqlite:
            # The column's own CHECKs go with it (SQLite ≥ 3.35 drops such a column in place).
            op.execute(f"ALTER TABLE orders DROP COLUMN {name}")
        else:
            for ck in checks:
                op.drop_constraint(op.f(ck), "orders", type_="check")
            op.drop_column("orders", name)

    if sqlite:
        op.execute("ALTER TABLE payments DROP COLUMN disputed_fen")
    else:
        for name in PAYMENT_CHECKS:
            op.drop_constraint(op.f(name), "payments", type_="check")
        op.drop_column("payments", "disputed_fen")
    op.drop_index(op.f("ix_payment_disputes_payment_id"), table_name="payment_disputes")
    op.drop_table("payment_disputes")
