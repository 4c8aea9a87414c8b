"""Migrations and models never drift apart, and the schema goes down and up again; the history
has one head; every named CHECK of the models is in the migrated database."""

import re
import shutil

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

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


# --------------------------------------------------------------------------- one head


def _heads(migrations_dir) -> list[str]:
    config = migrate.alembic_config()
    config.set_main_option("script_location", str(migrations_dir))
    return list(ScriptDirectory.from_config(config).get_heads())


def test_the_migrations_have_exactly_one_head():
    assert len(_heads(migrate.MIGRATIONS_DIR)) == 1


def test_a_second_head_would_be_caught(tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / "9999_side_branch.py").write_text(
        f'revision = "9999"\ndown_revision = "{_heads(copy)[0]}"\n'
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    (copy / "versions" / "9998_other_side.py").write_text(
        f'revision = "9998"\ndown_revision = "{_heads(migrate.MIGRATIONS_DIR)[0]}"\n'
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    assert sorted(_heads(copy)) == ["9998", "9999"]


# --------------------------------------------------------------------------- CHECK parity
# Alembic's comparison ignores CHECK constraints, so a CHECK the models declare and the
# migrations forgot would go unnoticed; this reads them back from the migrated database.


def _model_checks() -> set[tuple[str, str]]:
    """(table, constraint name) of every named CHECK of the models, as the database names it."""
    convention = metadata.naming_convention["ck"]
    found = set()
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint) and constraint.name:
                name = str(constraint.name)
                if not name.startswith("ck_"):
                    name = convention % {"table_name": table.name, "constraint_name": name}
                found.add((table.name, name))
    return found


def _database_checks(url: str) -> set[tuple[str, str]]:
    """(table, name) of every named CHECK in the database. On SQLite a rule that spans columns
    added to an existing table is enforced by triggers raising the constraint's name (SQLite
    cannot add a table CHECK without rebuilding the table); those count as the CHECK."""
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        found = {
            (table, check["name"])
            for table in inspector.get_table_names()
            for check in inspector.get_check_constraints(table)
            if check.get("name")
        }
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                triggers = conn.execute(
                    sa.text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
                ).all()
            for table, sql in triggers:
                match = re.search(r"CHECK constraint failed: (\w+)", sql or "")
                if match:
                    found.add((table, match.group(1)))
        return found
    finally:
        engine.dispose()


def test_every_named_check_of_the_models_is_in_the_migrated_database(database):
    in_database = _database_checks(database.url)
    model = _model_checks()
    assert len(model) > 100  # the reader found them (enums alone give dozens)
    assert sorted(model - in_database) == [], "CHECKs the migrations lack"
    assert sorted(in_database - model) == [], "CHECKs in the database the models do not declare"
