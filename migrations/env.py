"""Alembic environment. Uses the project's engine factory, so SQLite gets the same pragmas."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import context

from marketplace.db import create_engine
from marketplace.models import metadata

config = context.config


def _load_filters():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "migration_filters", Path(__file__).with_name("filters.py")
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


include_object = _load_filters().include_object


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
