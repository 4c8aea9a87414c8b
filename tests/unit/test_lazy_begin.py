"""Which statements may run before a unit of work's transaction has begun on PostgreSQL
(marketplace.db.begin_transactions_lazily): plain reads only. Every misreading must fall on the
side of beginning the transaction, which costs a BEGIN and never atomicity."""

from __future__ import annotations

import pytest

from marketplace.db import reads_outside_transaction

OUTSIDE = [
    "SELECT 1",
    "  select orders.updated_at, orders.deleted_note FROM orders WHERE orders.id = %(id)s",
    "SELECT\n  vouchers.id\nFROM vouchers",
    "WITH recent AS (SELECT id FROM services ORDER BY id DESC LIMIT 1000) SELECT * FROM recent",
    "SELECT count(*) FROM api_tokens WHERE name = 'for updates'",  # no FOR lock clause
]
INSIDE = [
    "SELECT orders.id FROM orders WHERE orders.id = %(id)s FOR UPDATE",
    "SELECT orders.id FROM orders FOR NO KEY UPDATE OF orders",
    "select id from outbound_emails for update skip locked",
    "SELECT id FROM vouchers FOR SHARE",
    "SELECT id FROM vouchers FOR KEY SHARE",
    "SELECT pg_advisory_xact_lock(%(id)s)",
    "SELECT pg_try_advisory_xact_lock(7)",
    "SELECT set_config('app.actor', '1', true)",
    "SELECT txid_current()",
    "WITH moved AS (UPDATE vouchers SET held_fen = 0 RETURNING id) SELECT * FROM moved",
    "WITH gone AS (DELETE FROM holds RETURNING id) SELECT count(*) FROM gone",
    "WITH made AS (INSERT INTO t (a) VALUES (1) RETURNING id) SELECT id FROM made",
    "INSERT INTO audit_events (seq) VALUES (1)",
    "UPDATE api_tokens SET last_used_at = now()",
    "DELETE FROM sessions",
    "SAVEPOINT sa_savepoint_1",
    "SET statement_timeout = 1000",
    "SHOW transaction_read_only",
    "LOCK TABLE vouchers IN SHARE MODE",
    "(SELECT 1) UNION (SELECT 2)",  # not recognised: begins, to be safe
    "SELECTED",
    "",
]


@pytest.mark.parametrize("statement", OUTSIDE)
def test_plain_reads_run_outside_the_transaction(statement):
    assert reads_outside_transaction(statement) is True


@pytest.mark.parametrize("statement", INSIDE)
def test_writes_locks_and_the_unrecognised_begin_it(statement):
    assert reads_outside_transaction(statement) is False
