"""A bigger world made by SQL from a seeded one (PostgreSQL): the 1,000,000 scaling step.

Seeding a million services and a million enterprises through the services takes hours on
this machine, so the scaling run's largest worlds are grown from the seeded one
(``Sizes()``: 100,000 services, 10,000 enterprises, the SMEs, their vouchers and quoted
orders) inside a copy of its template, with ``INSERT … SELECT`` over ``generate_series``:

* **services** — the seeded services cloned in id order, round and round, until there are
  ``services``: every stored column copied from the source row (title, description,
  search text, category, price, provider …) and the gram array the database derived from
  the search text (``search_grams``: copied, not derived again — see
  :func:`_copy_generated`), so the newest windows the search walks hold the same mix of
  texts and the gram index the same grams. A clone keeps its source's
  provider: the catalogue's admitted providers each offer ten times as many services (their
  qualifications, regions and admitted categories are the seeded ones). Instrument listings
  are cloned with their services.
* **enterprises** — cloned likewise up to ``enterprises``, each with a new unified social
  credit code that passes the project's own checks (``marketplace.credit_code``: GB 11714
  organisation check digit, GB 32100 check character; body ``8`` + a 7-digit serial, a prefix
  the seeded codes never use), in its source's division.
* **the related-party index** (``party_attributes``) — the seeded world declares no
  identities, so the index is empty there; here every enterprise and provider without rows
  gets a legal representative (a keyed-hash-shaped value), a bank account and a phone,
  unique to it (synthetic values: they never match one another, so no order becomes a
  related-party trade and no SME's controller group grows), three rows per party: at
  1,000,000 enterprises the order gate's look-ups run against ≈ 3,000,000 index rows.

The secondary indexes of the grown tables are dropped before the inserts and rebuilt from
their own definitions after (the GIN gram and trigram indexes build far faster in one pass
than row by row); the constraints and their indexes stay, so a clone that broke a unique
key would fail the run. Then ``VACUUM ANALYZE``, as autovacuum would have done on a live
server. The result is cached as its own template database (see :func:`template_name`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.http.world import Sizes
from marketplace.credit_code import CHARSET

#: Sizes at or above this are grown by SQL even without BENCH_GROW (seeding them through the
#: services would take hours).
GROW_AT = 1_000_000
#: The organisation-code body of grown enterprises: this prefix and a 7-digit serial.
GROWN_BODY_PREFIX = "8"
MAX_GROWN_ENTERPRISES = 9_999_999

_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]

#: ``pg_temp.vm_bench_credit_code(division, body)``: marketplace.credit_code.make_credit_code
#: (authority 9, category 1) in SQL, for a body of eight digits.
CREDIT_CODE_FUNCTION = f"""
CREATE FUNCTION pg_temp.vm_bench_credit_code(division text, body text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  WITH org AS (
    SELECT 11 - sum(substr(body, i, 1)::int
                    * (ARRAY{_ORG_WEIGHTS})[i]) % 11 AS r
    FROM generate_series(1, 8) AS i
  ), first17 AS (
    SELECT '91' || division || body
           || CASE r WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE r::text END AS f
    FROM org
  )
  SELECT f || substr('{CHARSET}',
                     (31 - (SELECT sum((strpos('{CHARSET}', substr(f, i, 1)) - 1)
                                       * (ARRAY{_USCC_WEIGHTS})[i])
                            FROM generate_series(1, 17) AS i)::int % 31) % 31 + 1, 1)
  FROM first17
$$
"""


@dataclass(frozen=True)
class Grown:
    """``source`` (seeded through the services) grown by SQL to ``services`` services and
    ``enterprises`` enterprises."""

    source: Sizes
    services: int
    enterprises: int

    @property
    def sizes(self) -> Sizes:
        return Sizes(
            services=self.services,
            enterprises=self.enterprises,
            smes=self.source.smes,
            orders=self.source.orders,
        )


def grown_from(sizes: Sizes, *, always: bool) -> Grown | None:
    """How ``sizes`` is made: grown from the default seeded world (``always`` — BENCH_GROW —
    or at GROW_AT and above), or None (seeded through the services). A world smaller than
    the seeded one in either count is always seeded."""
    source = Sizes(smes=sizes.smes, orders=sizes.orders)
    if not (always or sizes.services >= GROW_AT):
        return None
    if sizes.services < source.services or sizes.enterprises < source.enterprises:
        return None
    return Grown(source, sizes.services, sizes.enterprises)


def code_key() -> str:
    """What the grown template's name covers besides the source and sizes: this file."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:6]


def template_name(grown: Grown) -> str:
    """``vm_bench_http_<source key>_s<services>_e<enterprises>_<code>`` (≤ 63 characters)."""
    return f"vm_bench_http_{grown.source.key()}_s{grown.services}_e{grown.enterprises}_{code_key()}"


def grow(conn: psycopg.Connection, grown: Grown, *, log: Callable[[str], object] = print) -> int:
    """Grow the database behind ``conn`` (autocommit; a copy of the source's template) to
    ``grown``'s sizes. Returns the listed services afterwards."""
    if grown.enterprises > MAX_GROWN_ENTERPRISES:
        raise ValueError(f"at most {MAX_GROWN_ENTERPRISES:,} enterprises can be grown")
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute(CREDIT_CODE_FUNCTION)
    if _count(conn, "services") < grown.services:
        with _timed(log, "services"):
            dropped = _drop_plain_indexes(conn, "services")
            added = _clone(conn, "services", grown.services)
            _clone_instrument_listings(conn, added)
            _rebuild(conn, dropped, log)
    if _count(conn, "enterprises") < grown.enterprises:
        with _timed(log, "enterprises"):
            dropped = _drop_plain_indexes(conn, "enterprises")
            _clone(conn, "enterprises", grown.enterprises, credit_code=True)
            _rebuild(conn, dropped, log)
    with _timed(log, "related-party index"):
        dropped = _drop_plain_indexes(conn, "party_attributes")
        _index_parties(conn)
        _rebuild(conn, dropped, log)
    with _timed(log, "VACUUM ANALYZE"):
        conn.execute("VACUUM ANALYZE")
    return listed_services(conn)


@contextmanager
def _timed(log: Callable[[str], object], what: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log(f"grown: {what} in {time.perf_counter() - started:,.1f} s")


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _columns(conn: psycopg.Connection, table: str, *, skip: set[str]) -> list[str]:
    """Every stored column of ``table`` except ``skip`` (and generated ones: see
    :func:`_copy_generated`)."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s AND is_generated = 'NEVER' "
        "ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(name) for (name,) in rows if name not in skip]


def _clone(conn: psycopg.Connection, table: str, target: int, *, credit_code: bool = False) -> int:
    """Clone ``table``'s rows in id order, round and round, up to ``target`` rows; the clones
    take the ids after the highest (in the order cloned). Returns how many were added."""
    have, top = conn.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}").fetchone()  # type: ignore[misc]
    add = target - int(have)
    if add <= 0:
        return 0
    _copy_generated(conn, table)
    skip = {"id", "credit_code"} if credit_code else {"id"}
    columns = _columns(conn, table, skip=skip)
    listed = ", ".join(f'"{c}"' for c in columns)
    copied = ", ".join(f's."{c}"' for c in columns)
    extra_columns, extra_values = "", ""
    if credit_code:
        extra_columns = ", credit_code"
        extra_values = (
            f", pg_temp.vm_bench_credit_code(s.region_code, "
            f"'{GROWN_BODY_PREFIX}' || lpad(g.n::text, 7, '0'))"
        )
    conn.execute(
        f"CREATE TEMP TABLE grow_source_{table} AS "
        f"SELECT row_number() OVER (ORDER BY id) AS rn, id FROM {table}"
    )
    conn.execute(f"ANALYZE grow_source_{table}")
    conn.execute(
        f"INSERT INTO {table} (id, {listed}{extra_columns}) "
        f"SELECT %(top)s + g.n, {copied}{extra_values} "
        f"FROM generate_series(1, %(add)s) AS g(n) "
        f"JOIN grow_source_{table} AS m ON m.rn = (g.n - 1) %% %(have)s + 1 "
        f"JOIN {table} AS s ON s.id = m.id "
        f"ORDER BY g.n",
        {"top": int(top), "add": add, "have": int(have)},
    )
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
    )
    return add


def _copy_generated(conn: psycopg.Connection, table: str) -> None:
    """Make ``table``'s generated columns plain, so clones copy them from their source row.

    A clone's inputs are its source's, so the copied value is the one the database would
    derive — but deriving it is what costs: ``vm_search_grams`` takes ≈ 1.2 ms a service here,
    18 minutes of one core for 900,000 clones. In the grown copy the column is therefore a
    plain one (``ALTER COLUMN … DROP EXPRESSION``) holding the derived arrays; nothing in the
    benchmark writes services, and the planner sees the same data and statistics."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s AND is_generated = 'ALWAYS'",
        (table,),
    ).fetchall()
    for (name,) in rows:
        conn.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" DROP EXPRESSION')


def _clone_instrument_listings(conn: psycopg.Connection, added: int) -> None:
    """Each cloned service's instrument listing, when its source has one."""
    if not added:
        return
    columns = _columns(conn, "instrument_listings", skip={"id", "service_id"})
    listed = ", ".join(f'"{c}"' for c in columns)
    copied = ", ".join(f'l."{c}"' for c in columns)
    have, top = conn.execute("SELECT count(*), max(id) FROM grow_source_services").fetchone()  # type: ignore[misc]
    # A clone's id is top + n for the n-th clone (_clone), whose source is the
    # ((n - 1) % have + 1)-th seeded service.
    conn.execute(
        f"INSERT INTO instrument_listings (service_id, {listed}) "
        f"SELECT c.id, {copied} "
        f"FROM services AS c "
        f"JOIN grow_source_services AS m ON m.rn = (c.id - %(top)s - 1) %% %(have)s + 1 "
        f"JOIN instrument_listings AS l ON l.service_id = m.id "
        f"WHERE c.id > %(top)s",
        {"top": int(top), "have": int(have)},
    )


def _index_parties(conn: psycopg.Connection) -> None:
    """Three synthetic, unique index rows for every enterprise and provider that has none."""
    for kind, table, phone in (
        ("enterprise", "enterprises", "139"),
        ("provider", "providers", "138"),
    ):
        # The parties without rows first, apart: a NOT EXISTS over the table being filled
        # was planned from its statistics (empty) as a scan of it per party, and each scan
        # reads the rows this very statement has added — quadratic.
        conn.execute(f"DROP TABLE IF EXISTS grow_unindexed_{table}")
        conn.execute(
            f"CREATE TEMP TABLE grow_unindexed_{table} AS "
            f"SELECT id FROM {table} EXCEPT "
            f"SELECT party_id FROM party_attributes WHERE party_kind = %(kind)s::varchar",
            {"kind": kind},
        )
        conn.execute(f"ANALYZE grow_unindexed_{table}")
        conn.execute(
            f"""
            INSERT INTO party_attributes (party_kind, party_id, kind, value, evidence)
            SELECT %(kind)s::varchar, t.id, a.kind,
                   CASE a.kind
                     WHEN 'legal_representative'
                       THEN encode(sha256(convert_to('bench-{kind}-' || t.id, 'UTF8')), 'hex')
                     WHEN 'bank_account' THEN '6222{phone}' || lpad(t.id::text, 12, '0')
                     ELSE '{phone}' || lpad(t.id::text, 8, '0')
                   END,
                   'bench ' || a.kind || ' ' || t.id
            FROM grow_unindexed_{table} AS t
            CROSS JOIN (VALUES ('legal_representative'), ('bank_account'), ('phone')) AS a(kind)
            """,
            {"kind": kind},
        )


def _drop_plain_indexes(conn: psycopg.Connection, table: str) -> list[str]:
    """Drop ``table``'s indexes that back no constraint; their definitions, to rebuild."""
    rows = conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index AS x
        JOIN pg_class AS i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.oid)
        """,
        (table,),
    ).fetchall()
    for name, _definition in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [str(definition) for _name, definition in rows]


def _rebuild(
    conn: psycopg.Connection, definitions: list[str], log: Callable[[str], object]
) -> None:
    for definition in definitions:
        started = time.perf_counter()
        conn.execute(definition)
        log(
            f"grown: {definition.split(' ON ')[0]} rebuilt in {time.perf_counter() - started:,.1f} s"
        )


def listed_services(conn: psycopg.Connection) -> int:
    """Active services of admitted providers in an admitted category (providers.search)."""
    row = conn.execute(
        """
        SELECT count(*) FROM services AS s JOIN providers AS p ON p.id = s.provider_id
        WHERE s.is_active AND p.status = 'admitted'
          AND strpos(p.service_categories::text, '"' || s.category || '"') > 0
        """
    ).fetchone()
    return int(row[0]) if row else 0
