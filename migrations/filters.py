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
        "ix_services_search_text_trgm",  # pg_trgm GIN
        "ex_instrument_bookings_no_overlap",  # btree_gist exclusion (marketplace.instruments)
    }
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and name and name.startswith(IGNORED_TABLE_PREFIXES) and reflected:
        return False
    return not (type_ == "index" and name in IGNORED_INDEXES and reflected)
