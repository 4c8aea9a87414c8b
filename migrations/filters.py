"""Which database objects Alembic's autogenerate/drift comparison should look at.

Kept in its own module so migrations/env.py and the drift test share one definition.
"""

from __future__ import annotations

from typing import Any

#: Tables that exist only in the database by design (e.g. full-text-search shadow tables).
IGNORED_TABLE_PREFIXES: tuple[str, ...] = ("services_fts",)  # SQLite FTS5 (providers.search)
#: Indexes that exist only in the database by design (PostgreSQL-only operator classes).
IGNORED_INDEXES: frozenset[str] = frozenset(
    {
        "ix_services_search_text_trgm",  # pg_trgm GIN (0003)
        "ix_services_search_grams",  # GIN over services.search_grams (0017)
        "ex_instrument_bookings_no_overlap",  # btree_gist exclusion (marketplace.instruments)
    }
)
#: Columns that exist only in the database by design: (table, column).
IGNORED_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {("services", "search_grams")}  # PostgreSQL generated column of grams (0017)
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and name and name.startswith(IGNORED_TABLE_PREFIXES) and reflected:
        return False
    table = getattr(obj, "table", None)
    if (
        type_ == "column"
        and reflected
        and table is not None
        and (table.name, name) in IGNORED_COLUMNS
    ):
        return False
    return not (type_ == "index" and name in IGNORED_INDEXES and reflected)
