"""Migration 0004 on its own: from 0001 it creates exactly our tables as the models declare
them (constraints included), and it goes down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace import migrate
from marketplace.db import create_engine
from marketplace.models import metadata

OUR_TABLES = {"payments", "payment_refunds", "payment_webhook_events", "outbound_emails"}
#: Columns later migrations add to these tables (0008a: chargebacks; 0013: the outbox's
#: delivery attempts and back-off).
LATER_COLUMNS = {
    ("payments", "disputed_fen"),
    ("outbound_emails", "attempts"),
    ("outbound_emails", "next_attempt_at"),
    ("outbound_emails", "last_error"),
}
LATER_INDEXES = {"ix_outbound_emails_next_attempt_at"}


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table":
        return name in OUR_TABLES
    table = getattr(obj, "table", None)
    if type_ == "column" and table is not None and (table.name, name) in LATER_COLUMNS:
        return False
    if type_ == "index" and name in LATER_INDEXES:
        return False
    return table is None or table.name in OUR_TABLES


def _inspect(url: str) -> tuple[set[str], list, dict[str, set[str]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _ours}
            )
            diff = compare_metadata(context, metadata)
            inspector = sa.inspect(conn)
            tables = set(inspector.get_table_names())
            checks = {
                t: {c["name"] for c in inspector.get_check_constraints(t)}
                for t in OUR_TABLES & tables
            }
        return tables, diff, checks
    finally:
        engine.dispose()


def test_0004_alone_matches_the_models_and_round_trips(database):
    url = database.fresh("payments_migration")
    migrate.downgrade(url, "base")
    migrate.upgrade(url, "0004")  # 0001 and 0004 only: no dependency on the other branches

    tables, diff, checks = _inspect(url)
    assert tables >= OUR_TABLES
    assert diff == []
    assert {
        "ck_payments_refunded_within_amount",
        "ck_payments_amount_positive",
        "ck_payments_currency_cny",
        "ck_payments_payment_status",
    } <= checks["payments"]

    migrate.downgrade(url, "0001")
    tables, _diff, _checks = _inspect(url)
    assert not OUR_TABLES & tables and "users" in tables
    migrate.upgrade(url, "heads")
    tables, diff, _checks = _inspect(url)
    assert tables >= OUR_TABLES and diff == []
