"""Issue 16, point 5: the ledger and the audit trail partitioned by year on PostgreSQL, in
place (marketplace/ops/partitioning.py): rows stay where they were, new ones go to the year's
partition, the books and the chain still verify, the append-only guards hold on every
partition, and what partitioning weakens (the MAC's uniqueness across years) is caught by
``audit verify``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.ops import partitioning
from vouchers.ledger_models import LedgerEntry
from vouchers.verify import verify_ledger

on_postgresql = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def _where(connection, table: str) -> dict[str, int]:
    """Rows per partition."""
    rows = connection.execute(
        sa.text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")
    )
    return dict(rows.all())


def _refused(connection, statement: str) -> str:
    with pytest.raises(DBAPIError) as caught, connection.begin_nested():
        connection.execute(sa.text(statement))
    return str(caught.value.orig)


def _verified(app, session) -> None:
    with app.app_context():
        chain.seal(session)
        report = chain.verify(session)
    assert report.ok, report.problems
    ledger = verify_ledger(session)
    assert ledger.ok, ledger


@on_postgresql
def test_partitioned_in_place_then_rolled_over_and_still_verified(
    app, session, connection, funded_programme, issue_voucher, place_hold
):
    programme = funded_programme()
    place_hold(
        issue_voucher(programme=programme)
    )  # budget, issue and hold postings, their audit records
    session.flush()
    with app.app_context():
        chain.seal(session)
    before = {
        t: connection.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in partitioning.TABLES
    }
    assert all(before.values())

    for table in partitioning.TABLES:
        made = partitioning.partition(connection, table, 2026)
        assert [(p.name, p.lower) for p in made] == [
            (f"{table}_before_2026", None),
            (f"{table}_2026", made[0].upper),
        ]
        assert partitioning.is_partitioned(connection, table)
        # Not a row copied or lost: everything so far is the history partition.
        assert _where(connection, table) == {f"{table}_before_2026": before[table]}

    place_hold(
        issue_voucher(programme=programme)
    )  # written after the change, through the same services
    session.flush()
    _verified(app, session)
    for table in partitioning.TABLES:
        rows = _where(connection, table)
        assert rows[f"{table}_before_2026"] == before[table] and rows[f"{table}_2026"] > 0

    rolled = partitioning.roll(connection, "ledger_entries", 2027)
    assert [p.name for p in rolled][-2:] == ["ledger_entries_2026", "ledger_entries_2027"]
    assert (
        rolled[-2].upper
        == rolled[-1].lower
        == connection.scalar(sa.select(sa.func.max(LedgerEntry.id))) + 1
    )
    assert partitioning.roll(connection, "ledger_entries", 2027) == rolled  # idempotent
    place_hold(issue_voucher(programme=programme))
    session.flush()
    assert _where(connection, "ledger_entries")["ledger_entries_2027"] > 0
    _verified(app, session)


@on_postgresql
def test_every_partition_stays_append_only(
    app, session, connection, funded_programme, issue_voucher
):
    programme = funded_programme()
    issue_voucher(programme=programme)
    session.flush()
    for table in partitioning.TABLES:
        partitioning.partition(connection, table, 2026)
    issue_voucher(programme=programme)
    session.flush()
    partitioning.roll(connection, "audit_events", 2027)
    for table in partitioning.TABLES:
        names = [table, *(p.name for p in partitioning.partitions(connection, table))]
        for relation in names:
            if not connection.scalar(sa.text(f"SELECT count(*) FROM {relation}")):
                continue
            assert "append-only" in _refused(connection, f"DELETE FROM {relation}")
            assert "append-only" in _refused(
                connection,
                f"UPDATE {relation} SET id = id WHERE id = (SELECT min(id) FROM {relation})",
            )
            assert "append-only" in _refused(connection, f"TRUNCATE {relation}")


@on_postgresql
def test_a_copy_of_an_old_record_in_a_new_year_is_found_by_audit_verify(
    app, session, connection, funded_programme, issue_voucher
):
    programme = funded_programme()
    issue_voucher(programme=programme)
    session.flush()
    partitioning.partition(connection, "audit_events", 2026)
    original = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).first()
    columns = "occurred_at, actor_id, actor_role, client_address, action, subject_type, subject_id, detail, nonce, mac"
    copy_of = f"INSERT INTO audit_events ({columns}) SELECT {columns} FROM audit_events WHERE id = {original.id}"
    partitioning.roll(connection, "audit_events", 2027)
    # Across years the database accepts it (the index is per partition): verify finds it.
    connection.execute(sa.text(copy_of))
    copy_id = connection.scalar(sa.select(sa.func.max(AuditEvent.id)))
    with app.app_context():
        chain.seal(session)
        report = chain.verify(session)
    assert f"record #{copy_id} repeats record #{original.id} (the same MAC)" in " ".join(
        report.problems
    )


@on_postgresql
def test_a_copy_within_one_year_is_refused_by_its_partition(
    session, connection, funded_programme, issue_voucher
):
    partitioning.partition(connection, "audit_events", 2026)
    issue_voucher(programme=funded_programme())
    session.flush()
    record = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    columns = "occurred_at, action, subject_type, detail, nonce, mac"
    message = _refused(
        connection,
        f"INSERT INTO audit_events ({columns}) SELECT {columns} FROM audit_events"
        f" WHERE id = {record.id}",
    )
    assert "uq_audit_events_2026_mac" in message


@on_postgresql
def test_the_commands_partition_and_roll_and_refuse_twice(
    app, connection, funded_programme, issue_voucher
):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["ops", "partition", "--year", "2026"])
    assert done.exit_code == 0, done.output
    assert "ledger_entries: ledger_entries_before_2026, ledger_entries_2026" in done.output
    assert "audit_events: audit_events_before_2026, audit_events_2026" in done.output
    again = runner.invoke(args=["ops", "partition", "ledger_entries", "--year", "2026"])
    assert again.exit_code == 1 and "ledger_entries is already partitioned" in again.output
    issue_voucher(programme=funded_programme())
    rolled = runner.invoke(args=["ops", "partition-roll", "--year", "2027"])
    assert rolled.exit_code == 0, rolled.output
    assert "audit_events_2026, audit_events_2027" in rolled.output
    unknown = runner.invoke(args=["ops", "partition", "vouchers"])
    assert unknown.exit_code == 1 and "not one of the append-only tables" in unknown.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_keeps_one_table_and_says_so(app, connection):
    result = app.test_cli_runner().invoke(args=["ops", "partition", "--year", "2026"])
    assert result.exit_code == 1
    assert "partitioning is a PostgreSQL feature" in result.output
