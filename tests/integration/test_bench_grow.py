"""The 1,000,000 scaling step's world is grown by SQL from a seeded one
(benchmarks/http/grow.py). What the figures rest on: every clone is its source row (text,
gram array, provider, listing rules), the new enterprises' credit codes pass the project's
own checks, the related-party index has unique rows for every party, and the indexes the
growth dropped are back as they were."""

from __future__ import annotations

import random

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks.http import grow
from benchmarks.http.world import Sizes
from benchmarks.seed import add_enterprises, seed_catalogue
from marketplace.credit_code import make_credit_code, organisation_check_digit, parse_credit_code
from providers.search import listed_services

on_postgresql = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

ENTERPRISES_SEEDED = 7


def _libpq(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)


def _indexes(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,))
    return {str(definition) for (definition,) in rows}


@on_postgresql
def test_credit_code_function_is_make_credit_code(database):
    """The SQL port agrees with marketplace.credit_code, the organisation check digit's 'X'
    and '0' cases included."""
    bodies = [f"8{n:07d}" for n in range(1, 400)]
    checks = {organisation_check_digit(b) for b in bodies}
    assert {"X", "0"} <= checks
    with psycopg.connect(_libpq(database.url), autocommit=True) as conn:
        conn.execute(grow.CREDIT_CODE_FUNCTION)
        for division in ("530102", "532301"):
            got = [
                row[0]
                for row in conn.execute(
                    "SELECT pg_temp.vm_bench_credit_code(%s, b) FROM unnest(%s::text[]) AS b",
                    (division, bodies),
                )
            ]
            assert got == [make_credit_code(division, b) for b in bodies]


@on_postgresql
def test_grown_world_clones_every_column_and_keeps_the_indexes(database):
    url = database.fresh("grow")
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            seed_catalogue(session, admitted=5, per_provider=3, unlisted=2)
            add_enterprises(session, ENTERPRISES_SEEDED, rng=random.Random(7))
            session.commit()
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            seeded = _count(conn, "services")
            span = conn.execute("SELECT min(id), max(id) FROM services").fetchone()
            assert seeded > 5 and span == (1, seeded)
            before = {t: _indexes(conn, t) for t in ("services", "enterprises", "party_attributes")}
            source_listed = grow.listed_services(conn)
            target = grow.Grown(Sizes(), services=seeded * 4 + 5, enterprises=40)
            listed = grow.grow(conn, target, log=lambda _text: None)

            assert _count(conn, "services") == target.services
            assert _count(conn, "enterprises") == target.enterprises
            # Every column of a clone is its source's: the n-th clone copies the
            # ((n - 1) % seeded + 1)-th seeded row (ids 1..seeded here).
            differing = conn.execute(
                """
                SELECT count(*) FROM services AS c JOIN services AS s
                  ON s.id = (c.id - %(seeded)s - 1) %% %(seeded)s + 1
                WHERE c.id > %(seeded)s
                  AND (to_jsonb(c) - 'id') IS DISTINCT FROM (to_jsonb(s) - 'id')
                """,
                {"seeded": seeded},
            ).fetchone()
            assert differing == (0,)
            grams = conn.execute(
                "SELECT count(*) FROM services WHERE search_grams IS NULL OR "
                "cardinality(search_grams) = 0"
            ).fetchone()
            assert grams == (0,)
            # Four rounds and five more: the listed ones grow with their sources.
            first_five = conn.execute(
                "SELECT count(*) FROM services AS s JOIN providers AS p ON p.id = s.provider_id "
                "WHERE s.id <= 5 AND s.is_active AND p.status = 'admitted' "
                "AND strpos(p.service_categories::text, '\"' || s.category || '\"') > 0"
            ).fetchone()
            assert first_five is not None
            assert listed == source_listed * 4 + first_five[0]

            codes = conn.execute(
                "SELECT credit_code, region_code FROM enterprises ORDER BY id"
            ).fetchall()
            assert len({code for code, _ in codes}) == target.enterprises
            for code, region in codes:
                assert parse_credit_code(code).division_code == region

            parties = conn.execute(
                "SELECT party_kind, count(DISTINCT party_id), count(*) FROM party_attributes "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
            providers = _count(conn, "providers")
            assert parties == [
                ("enterprise", target.enterprises, 3 * target.enterprises),
                ("provider", providers, 3 * providers),
            ]
            shared = conn.execute(
                "SELECT count(*) FROM (SELECT kind, value FROM party_attributes "
                "GROUP BY 1, 2 HAVING count(*) > 1) AS s"
            ).fetchone()
            assert shared == (0,)

            after = {t: _indexes(conn, t) for t in before}
            assert after == before
        # The application's own listing rule counts what the growth reports.
        with Session(engine) as session:
            counted = session.scalar(
                sa.select(sa.func.count()).select_from(listed_services().subquery())
            )
        assert counted == listed
    finally:
        engine.dispose()


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])
