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


def _next_id(conn: Connection, relation: str) -> int:
    return int(conn.scalar(sa.text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {relation}")))


def _index_names(conn: Connection, relation: str) -> list[str]:
    return list(
        conn.scalars(
            sa.text(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = CAST(:r AS regclass)"
            ),
            {"r": relation},
        )
    )


def _guard_partition(conn: Connection, table: AppendOnlyTable, partition: str) -> None:
    """What a new partition needs beyond what PostgreSQL clones from the parent: its own
    UNIQUE indexes and its TRUNCATE guard (statement triggers are not cloned)."""
    for column in table.unique_per_partition:
        conn.execute(
            sa.text(f"CREATE UNIQUE INDEX uq_{partition}_{column} ON {partition} ({column})")
        )
    conn.execute(
        sa.text(
            f"CREATE TRIGGER {partition}_no_truncate BEFORE TRUNCATE ON {partition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {table.guard}()"
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
    boundary = _next_id(conn, name)

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

    # Attach the history without a second scan: the CHECK constraint proves the bound.
    conn.execute(
        sa.text(f"ALTER TABLE {history} ADD CONSTRAINT {history}_bound CHECK (id < {boundary})")
    )
    conn.execute(
        sa.text(
            f"ALTER TABLE {name} ATTACH PARTITION {history}"
            f" FOR VALUES FROM (MINVALUE) TO ({boundary})"
        )
    )
    conn.execute(
        sa.text(
            f"CREATE TABLE {current} PARTITION OF {name} FOR VALUES FROM ({boundary}) TO (MAXVALUE)"
        )
    )
    conn.execute(
        sa.text(
            f"CREATE TRIGGER {name}_append_only BEFORE DELETE OR UPDATE ON {name}"
            f" FOR EACH ROW EXECUTE FUNCTION {table.guard}()"
        )
    )
    conn.execute(
        sa.text(
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {table.guard}()"
        )
    )
    conn.execute(
        sa.text(
            f"CREATE TRIGGER {history}_no_truncate BEFORE TRUNCATE ON {history}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {table.guard}()"
        )
    )
    _guard_partition(conn, table, current)
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
    boundary = _next_id(conn, open_.name)
    if boundary <= open_.lower:
        # Nothing written since it opened: it is replaced by the new year's, same bounds.
        conn.execute(sa.text(f"DROP TABLE {open_.name}"))
        conn.execute(
            sa.text(
                f"CREATE TABLE {current} PARTITION OF {name}"
                f" FOR VALUES FROM ({open_.lower}) TO (MAXVALUE)"
            )
        )
        _guard_partition(conn, table, current)
        return partitions(conn, name)
    conn.execute(sa.text(f"ALTER TABLE {name} DETACH PARTITION {open_.name}"))
    conn.execute(
        sa.text(
            f"ALTER TABLE {open_.name} ADD CONSTRAINT {open_.name}_bound"
            f" CHECK (id >= {open_.lower} AND id < {boundary})"
        )
    )
    conn.execute(
        sa.text(
            f"ALTER TABLE {name} ATTACH PARTITION {open_.name}"
            f" FOR VALUES FROM ({open_.lower}) TO ({boundary})"
        )
    )
    conn.execute(
        sa.text(
            f"CREATE TABLE {current} PARTITION OF {name} FOR VALUES FROM ({boundary}) TO (MAXVALUE)"
        )
    )
    _guard_partition(conn, table, current)
    return partitions(conn, name)
