"""The two append-only tables partitioned by year on PostgreSQL: ``ledger_entries`` and
``audit_events`` (README, "Scale-out"; issue 16).

Not applied by the migrations: at a province's volume one table of each serves every query
(README, the figures). This is the tested procedure for when a table passes tens of millions
of rows. Both tables become ``PARTITION BY RANGE (id)``: ids only grow, every row of one
year lies between that year's first id and the next year's, and the primary key (``id``)
contains the partition key, so it stays unique across partitions.

* :func:`partition` turns the table into a partitioned one **without copying a row**: the
  existing table is attached as the partition ``<table>_before_<year>`` (ids up to now) and
  ``<table>_<year>`` takes every id from here on. One transaction, an ACCESS EXCLUSIVE lock on
  the table for as long as one scan of it takes (the bound's CHECK constraint is validated
  once, so attaching needs no second scan).
* :func:`roll` (``flask ops partition-roll``, cron on 1 January): closes the open partition at
  the ids written so far and opens ``<table>_<year>``: a scan of one year's partition under
  the lock.

What partitioning gives up, and how it is kept: PostgreSQL allows a UNIQUE constraint on a
partitioned table only when it contains the partition key. ``audit_events``' ``mac`` and
``seq`` (the hash chain's guards) therefore become unique **per partition** (an index on each);
across years ``flask audit verify`` checks them (:func:`marketplace.audit.chain.verify`
looks for a repeated MAC; the chain walk catches a repeated position). The append-only
triggers are recreated on the partitioned table, from which PostgreSQL clones the row
triggers onto every partition; TRUNCATE, a statement trigger, is refused on each partition
as on the whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class PartitioningError(RuntimeError):
    """The table cannot be partitioned (or rolled) as asked; nothing was changed."""


@dataclass(frozen=True)
class AppendOnlyTable:
    name: str
    #: The trigger function refusing UPDATE/DELETE/TRUNCATE (migrations 0002 and 0014).
    guard: str
    #: UNIQUE columns besides the key: unique per partition, checked across by the verifiers.
    unique_per_partition: tuple[str, ...] = ()


TABLES = {
    table.name: table
    for table in (
        AppendOnlyTable("ledger_entries", "ledger_append_only"),
        AppendOnlyTable("audit_events", "audit_events_append_only", ("mac", "seq")),
    )
}


@dataclass(frozen=True)
class Partition:
    name: str
    lower: int | None  # None: MINVALUE
    upper: int | None  # None: MAXVALUE


def _table(name: str) -> AppendOnlyTable:
    try:
        return TABLES[name]
    except KeyError:
        raise PartitioningError(
            f"{name!r} is not one of the append-only tables ({', '.join(TABLES)})"
        ) from None


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise PartitioningError("partitioning is a PostgreSQL feature; SQLite keeps one table")


def is_partitioned(conn: Connection, name: str) -> bool:
    return bool(
        conn.scalar(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table"
                " WHERE partrelid = to_regclass(:name))"
            ),
            {"name": name},
        )
    )


_BOUND = re.compile(r"FOR VALUES FROM \('?(MINVALUE|\d+)'?\) TO \('?(MAXVALUE|\d+)'?\)")


def partitions(conn: Connection, name: str) -> list[Partition]:
    """The partitions of ``name`` in id order (empty when it is not partitioned)."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:name)"
        ),
        {"name": name},
    )
    found = []
    for relname, bound in rows:
        match = _BOUND.fullmatch(bound)
        if match is None:  # only this module makes partitions; anything else is a mistake
            raise PartitioningError(f"partition {relname} has an unexpected bound: {bound}")
        low, high = match.groups()
        found.append(
            Partition(
                relname,
                None if low == "MINVALUE" else int(low),
                None if high == "MAXVALUE" else int(high),
            )
        )
    return sorted(found, key=lambda p: -1 if p.lower is None else p.lower)


def _lock(conn: Connection, name: str) -> None:
    conn.execute(sa.text(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))


def _next_id(conn: Connection, relation: str, table: str) -> int:
    """The first id not in ``relation`` nor handed out by the table's sequence yet (an id
    drawn before the lock and inserted after it still falls below the new bound)."""
    return int(
        conn.scalar(
            sa.text(
                f"SELECT GREATEST(COALESCE(MAX(id), 0), (SELECT last_value FROM {table}_id_seq))"
                f" + 1 FROM {relation}"
            )
        )
    )


def _index_names(conn: Connection, relation: str) -> list[str]:
    return list(
        conn.scalars(
            sa.text(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = CAST(:r AS regclass)"
            ),
            {"r": relation},
        )
    )


def _no_truncate(conn: Connection, table: AppendOnlyTable, relation: str) -> None:
    conn.execute(
        sa.text(
            f"CREATE TRIGGER {relation}_no_truncate BEFORE TRUNCATE ON {relation}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {table.guard}()"
        )
    )


def _open(conn: Connection, table: AppendOnlyTable, partition_name: str, lower: int) -> None:
    """Create the open partition (ids from ``lower`` on) with what PostgreSQL does not clone
    from the parent: its UNIQUE indexes and its TRUNCATE guard (a statement trigger)."""
    conn.execute(
        sa.text(
            f"CREATE TABLE {partition_name} PARTITION OF {table.name}"
            f" FOR VALUES FROM ({lower}) TO (MAXVALUE)"
        )
    )
    for column in table.unique_per_partition:
        conn.execute(
            sa.text(
                f"CREATE UNIQUE INDEX uq_{partition_name}_{column} ON {partition_name} ({column})"
            )
        )
    _no_truncate(conn, table, partition_name)


def _attach(
    conn: Connection, name: str, partition_name: str, lower: int | None, upper: int
) -> None:
    """Attach with bounds, without a second scan: a CHECK constraint (validated by the one
    scan, under the lock) proves them first."""
    low = "MINVALUE" if lower is None else str(lower)
    check = f"id < {upper}" if lower is None else f"id >= {lower} AND id < {upper}"
    conn.execute(
        sa.text(
            f"ALTER TABLE {partition_name} ADD CONSTRAINT {partition_name}_bound CHECK ({check})"
        )
    )
    conn.execute(
        sa.text(
            f"ALTER TABLE {name} ATTACH PARTITION {partition_name}"
            f" FOR VALUES FROM ({low}) TO ({upper})"
        )
    )


def partition(conn: Connection, name: str, year: int) -> list[Partition]:
    """Make ``name`` partitioned by id: its rows so far become ``<name>_before_<year>``, new
    rows go to ``<name>_<year>``. Run inside the caller's transaction (all or nothing)."""
    _require_postgresql(conn)
    table = _table(name)
    if is_partitioned(conn, name):
        raise PartitioningError(f"{name} is already partitioned")
    _lock(conn, name)
    history, current = f"{name}_before_{year}", f"{name}_{year}"
    boundary = _next_id(conn, name, name)

    # The table becomes the history partition: its name, index names and triggers are freed
    # for the partitioned table (index names are schema-wide; its indexes are then attached
    # to the parent's, not rebuilt).
    conn.execute(sa.text(f"ALTER TABLE {name} RENAME TO {history}"))
    for index in _index_names(conn, history):
        bare = index.rsplit(".", 1)[-1]
        conn.execute(sa.text(f"ALTER INDEX {bare} RENAME TO {bare}__{year}h"))
    conn.execute(sa.text(f"DROP TRIGGER {name}_append_only ON {history}"))
    conn.execute(sa.text(f"DROP TRIGGER {name}_no_truncate ON {history}"))

    # The partitioned table: same columns, defaults (the id sequence) and CHECK constraints.
    conn.execute(
        sa.text(
            f"CREATE TABLE {name} (LIKE {history} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            " PARTITION BY RANGE (id)"
        )
    )
    conn.execute(sa.text(f"ALTER SEQUENCE {name}_id_seq OWNED BY {name}.id"))
    conn.execute(sa.text(f"ALTER TABLE {name} ADD CONSTRAINT pk_{name} PRIMARY KEY (id)"))
    for fk_name, definition in conn.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:r AS regclass) AND contype = 'f'"
        ),
        {"r": history},
    ):
        conn.execute(sa.text(f"ALTER TABLE {name} ADD CONSTRAINT {fk_name} {definition}"))
    for index_name, definition in conn.execute(
        sa.text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = CAST(:r AS regclass) AND NOT i.indisunique"
        ),
        {"r": history},
    ):
        original = index_name.rsplit(".", 1)[-1].removesuffix(f"__{year}h")
        on_parent = re.sub(
            r"^CREATE INDEX \S+ ON \S+", f"CREATE INDEX {original} ON {name}", definition
        )
        conn.execute(sa.text(on_parent))

    _attach(conn, name, history, None, boundary)
    _open(conn, table, current, boundary)
    conn.execute(
        sa.text(
            f"CREATE TRIGGER {name}_append_only BEFORE DELETE OR UPDATE ON {name}"
            f" FOR EACH ROW EXECUTE FUNCTION {table.guard}()"
        )
    )
    _no_truncate(conn, table, name)
    _no_truncate(conn, table, history)
    return partitions(conn, name)


def roll(conn: Connection, name: str, year: int) -> list[Partition]:
    """Close the open partition at the ids written so far and open ``<name>_<year>`` for the
    rest. Idempotent: a second roll to the same year changes nothing."""
    _require_postgresql(conn)
    table = _table(name)
    if not is_partitioned(conn, name):
        raise PartitioningError(f"{name} is not partitioned (flask ops partition first)")
    _lock(conn, name)
    current = f"{name}_{year}"
    existing = partitions(conn, name)
    if any(p.name == current for p in existing):
        return existing
    open_ = next((p for p in existing if p.upper is None), None)
    if open_ is None or open_.lower is None:
        raise PartitioningError(f"{name} has no open partition to close")
    boundary = _next_id(conn, open_.name, name)
    if boundary <= open_.lower:
        # Nothing written since it opened: the new year's replaces it, from the same id.
        conn.execute(sa.text(f"DROP TABLE {open_.name}"))
        _open(conn, table, current, open_.lower)
        return partitions(conn, name)
    conn.execute(sa.text(f"ALTER TABLE {name} DETACH PARTITION {open_.name}"))
    _attach(conn, name, open_.name, open_.lower, boundary)
    _open(conn, table, current, boundary)
    return partitions(conn, name)
