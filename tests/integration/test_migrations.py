"""Migrations and models never drift apart, and the schema goes down and up again."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace import migrate
from marketplace.db import create_engine
from marketplace.models import metadata


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _include_object()}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _include_object():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "migrations_filters", migrate.MIGRATIONS_DIR / "filters.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.include_object


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_match_migrations(database):
    assert _diff(database.url) == []


def test_upgrade_downgrade_upgrade(database):
    url = database.fresh("roundtrip")
    assert "users" in _tables(url)
    migrate.downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert _diff(url) == []
    assert {"users", "enterprises", "providers", "programmes"} <= _tables(url)
