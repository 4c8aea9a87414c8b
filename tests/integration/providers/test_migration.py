"""Provider migrations: models and schema agree, search structures exist, it goes down and
up, and 0007 / 0008b carry existing data over."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace import migrate
from marketplace.db import create_engine
from marketplace.models import metadata
from providers import models
from providers.search import FTS_TABLE, TRGM_INDEX

PROVIDER_TABLES = {
    table.name
    for table in metadata.sorted_tables
    if table.name
    in {
        m.__tablename__
        for m in vars(models).values()
        if hasattr(m, "__table__") and m.__module__ == models.__name__
    }
}


def _filters() -> Any:
    spec = importlib.util.spec_from_file_location(
        "migration_filters", migrate.MIGRATIONS_DIR / "filters.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _diff_names(diff: Any) -> set[str]:
    names: set[str] = set()
    for entry in diff:
        items = entry if isinstance(entry, list) else [entry]
        for item in items:
            for part in item[1:]:
                name = getattr(part, "name", None) or getattr(
                    getattr(part, "table", None), "name", None
                )
                if isinstance(part, str):
                    name = part
                if name:
                    names.add(str(name))
    return names


def _insert_provider(
    conn: Any, name: str, credit_code: str, status: str = "admitted", **columns: Any
) -> int:
    """A provider row written in SQL, as the schema under test has it (the models may be
    ahead of it)."""
    values = {
        "name": name,
        "credit_code": credit_code,
        "region_code": "530102",
        "institution_type": "testing_centre",
        "status": status,
        "contact_name": "联系人",
        "contact_phone": "0871",
        "contact_email": "a@b.cn",
        **columns,
        "created_at": "2026-01-01 00:00:00",
        "updated_at": "2026-01-01 00:00:00",
    }
    names = ", ".join(values)
    params = ", ".join(f":{column}" for column in values)
    return int(
        conn.execute(
            sa.text(f"INSERT INTO providers ({names}) VALUES ({params}) RETURNING id"), values
        ).scalar_one()
    )


def _provider_diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _filters().include_object}
            )
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    # Other areas' tables may be mid-flight in a shared tree; judge only ours.
    return [d for d in diff if _diff_names([d]) & PROVIDER_TABLES]


def test_provider_models_match_the_migration(database):
    assert _provider_diff(database.url) == []


def test_search_structures_exist_and_are_hidden_from_drift(database):
    filters = _filters()
    assert FTS_TABLE.startswith(filters.IGNORED_TABLE_PREFIXES)
    assert TRGM_INDEX in filters.IGNORED_INDEXES
    engine = create_engine(database.url)
    try:
        with engine.connect() as conn:
            if database.backend == "sqlite":
                sql = conn.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": FTS_TABLE}
                ).scalar_one()
                assert "fts5" in sql and "trigram" in sql
                triggers = set(
                    conn.execute(
                        sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                    ).scalars()
                )
                assert {
                    f"{FTS_TABLE}_insert",
                    f"{FTS_TABLE}_update",
                    f"{FTS_TABLE}_delete",
                } <= triggers
            else:
                indexdef = conn.execute(
                    sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                    {"n": TRGM_INDEX},
                ).scalar_one()
                assert "gin" in indexdef and "gin_trgm_ops" in indexdef
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_downgrade_keeps_existing_providers_and_upgrade_restores(database):
    url = database.fresh("providers_roundtrip")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _insert_provider(conn, "既有机构", "91530102MA6N00011A")
    finally:
        engine.dispose()
    migrate.downgrade(url, "0001")
    assert "credit_score" not in _columns(url, "providers")
    assert not (PROVIDER_TABLES - {"providers"}) & _tables(url)
    migrate.upgrade(url, "heads")
    assert {"credit_score", "accreditation_level", "version"} <= _columns(url, "providers")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT credit_score, version, service_categories FROM providers")
            ).one()
    finally:
        engine.dispose()
    assert row[0] == 75 and row[1] == 1
    assert _provider_diff(url) == []


def test_0007_ties_existing_objections_to_the_notice_round_they_were_filed_in(database):
    url = database.fresh("objection_rounds")
    migrate.downgrade(url, "0006")
    assert "notice_change_id" not in _columns(url, "provider_objections")
    assert "provider_bank_changes" not in _tables(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            provider_id = _insert_provider(conn, "再申请机构", "91530102MA6N00022A", "in_notice")

            def step(action: str, before: str, after: str, when: str) -> int:
                return conn.execute(
                    sa.text(
                        "INSERT INTO provider_status_changes (provider_id, action, from_status,"
                        " to_status, reason, occurred_at) VALUES (:p, :a, :f, :s, :r, :t)"
                        " RETURNING id"
                    ),
                    {
                        "p": provider_id,
                        "a": action,
                        "f": before,
                        "s": after,
                        "r": "理由",
                        "t": when,
                    },
                ).scalar_one()

            def objection(when: str) -> None:
                conn.execute(
                    sa.text(
                        "INSERT INTO provider_objections (provider_id, objector_name,"
                        " objector_contact, grounds, filed_at, status)"
                        " VALUES (:p, '王先生', '13900000000', '异议理由十个字以上。', :t, 'open')"
                    ),
                    {"p": provider_id, "t": when},
                )

            first = step("pass_to_notice", "pending", "in_notice", "2026-02-01 00:00:00")
            objection("2026-02-02 00:00:00")
            step("uphold_objection", "in_notice", "rejected", "2026-02-03 00:00:00")
            step("submit", "rejected", "pending", "2026-02-04 00:00:00")
            second = step("pass_to_notice", "pending", "in_notice", "2026-02-05 00:00:00")
            objection("2026-02-06 00:00:00")
    finally:
        engine.dispose()
    migrate.upgrade(url, "heads")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rounds = conn.execute(
                sa.text("SELECT notice_change_id FROM provider_objections ORDER BY id")
            ).scalars()
            assert list(rounds) == [first, second]
    finally:
        engine.dispose()
    assert {"provider_bank_changes"} <= _tables(url)
    assert _provider_diff(url) == []


def test_0008b_accepts_documents_on_file_and_keeps_the_latest_assessment_per_evaluator(database):
    url = database.fresh("provider_evidence")
    migrate.downgrade(url, "0007")
    assert "review_status" not in _columns(url, "provider_documents")
    assert "provider_qualification_changes" not in _tables(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            provider_id = _insert_provider(conn, "评价机构", "91530102MA6N00033A", credit_score=92)
            conn.execute(
                sa.text(
                    "INSERT INTO provider_documents (provider_id, kind, original_filename,"
                    " stored_name, content_type, size_bytes, sha256, expires_on, uploaded_at)"
                    " VALUES (:p, 'cma_certificate', 'cma.pdf', 'abc.pdf', 'application/pdf',"
                    " 10, 'x', '2027-01-01', '2026-01-02 03:04:05')"
                ),
                {"p": provider_id},
            )

            def assessment(name: str, period: str, score: int, when: str) -> int:
                return conn.execute(
                    sa.text(
                        "INSERT INTO provider_assessments (provider_id, assessor_kind,"
                        " evaluator_name, score, period, comment, created_at)"
                        " VALUES (:p, 'administrator', :n, :s, :w, '年度评价意见。', :t)"
                        " RETURNING id"
                    ),
                    {"p": provider_id, "n": name, "s": score, "w": period, "t": when},
                ).scalar_one()

            # The same evaluator and period three times: only the latest will count.
            assessment("昆明市科技局", "2026", 100, "2026-02-01 00:00:00")
            assessment("昆明市科技局", "2026", 100, "2026-03-01 00:00:00")
            latest = assessment("昆明市科技局", "2026", 60, "2026-04-01 00:00:00")
            # Spelled differently, the same key once normalised; the later one is kept.
            other = assessment("云南省  科技厅", "2026-h1", 80, "2026-02-01 00:00:00")
            assessment("云南省 科技厅", "2026-H1", 90, "2026-01-01 00:00:00")
    finally:
        engine.dispose()
    migrate.upgrade(url, "heads")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            status, decided_at, uploaded_at = conn.execute(
                sa.text("SELECT review_status, decided_at, uploaded_at FROM provider_documents")
            ).one()
            kept = conn.execute(
                sa.text(
                    "SELECT id, evaluator_name, period, score FROM provider_assessments ORDER BY id"
                )
            ).all()
            replaced = conn.execute(
                sa.text(
                    "SELECT subject_id, detail FROM audit_events"
                    " WHERE action = 'provider.assessment_replaced' ORDER BY id"
                )
            ).all()
            score = conn.execute(
                sa.text("SELECT credit_score FROM providers WHERE id = :p"), {"p": provider_id}
            ).scalar_one()
    finally:
        engine.dispose()
    assert status == "accepted" and decided_at == uploaded_at
    assert [tuple(row) for row in kept] == [
        (latest, "昆明市科技局", "2026", 60),
        (other, "云南省 科技厅", "2026-H1", 80),
    ]
    assert len(replaced) == 3 and {r[0] for r in replaced} == {provider_id}
    details = [r[1] if isinstance(r[1], dict) else json.loads(r[1]) for r in replaced]
    assert sorted((d["assessment_id"], d["previous"]["score"]) for d in details) == sorted(
        [(latest, 100), (latest, 100), (other, 90)]
    )
    assert {d["previous"]["recorded_at"][:10] for d in details} == {
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    }
    # The cached score no longer counts the duplicates. E = 75 with no ratings;
    # G = (60 + 80) / 2 = 70: round((50 * 75 + 25 * 70) / 75) = 73 (it was 92).
    assert score == 73
    assert {"provider_qualification_changes", "provider_related_party_withdrawals"} <= _tables(url)
    assert _provider_diff(url) == []


def _insert_service(conn: Any, provider_id: int, search_text: str) -> int:
    return int(
        conn.execute(
            sa.text(
                "INSERT INTO services (provider_id, title, category, description, pricing,"
                " price_fen, unit, lead_time_days, is_active, search_text, version,"
                " rating_count, rating_total, rating_avg_x100, created_at, updated_at)"
                " VALUES (:p, 'EMC 测试', 'testing', '', 'fixed', 100, '次', 1, true, :s, 1,"
                " 0, 0, 0, :t, :t) RETURNING id"
            ),
            {"p": provider_id, "s": search_text, "t": "2026-01-01 00:00:00"},
        ).scalar_one()
    )


def test_0023_stores_the_search_text_lower_cased(database):
    """Rows written before 0023 are lower-cased by it (by Python's str.lower, as the
    application writes them: É too, which SQLite's own lower() leaves); on PostgreSQL its
    trigger lower-cases what any later writer stores; the downgrade keeps the text."""
    url = database.fresh("search_text_lower")
    migrate.downgrade(url, "0022")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            provider_id = _insert_provider(conn, "检测中心", "91530102MA6N00044A")
            before = _insert_service(conn, provider_id, "EMC 测试\nCNAS Écran")
        migrate.upgrade(url, "heads")
        with engine.begin() as conn:
            after = _insert_service(conn, provider_id, "SEM 扫描电镜")
            conn.execute(
                sa.text("UPDATE services SET search_text = 'JSM-7610F' WHERE id = :i"),
                {"i": after},
            )
            texts = dict(conn.execute(sa.text("SELECT id, search_text FROM services")).all())
        postgres = engine.dialect.name == "postgresql"
        assert texts[before] == "emc 测试\ncnas écran"
        assert texts[after] == ("jsm-7610f" if postgres else "JSM-7610F")
        migrate.downgrade(url, "0022")
        with engine.begin() as conn:
            kept = conn.execute(
                sa.text("SELECT search_text FROM services WHERE id = :i"), {"i": before}
            ).scalar_one()
            conn.execute(
                sa.text("UPDATE services SET search_text = 'EMC' WHERE id = :i"), {"i": after}
            )
            unguarded = conn.execute(
                sa.text("SELECT search_text FROM services WHERE id = :i"), {"i": after}
            ).scalar_one()
    finally:
        engine.dispose()
    assert kept == "emc 测试\ncnas écran" and unguarded == "EMC"
