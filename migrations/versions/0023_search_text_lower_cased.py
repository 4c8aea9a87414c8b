"""``services.search_text`` stored lower-cased: the rows already there lower-cased once, and on
PostgreSQL a trigger that lower-cases it on every write

The catalogue search tests each row of its candidate walk with ``strpos``; a term with
Latin letters (CNAS, EMC) was tested against ``lower(search_text)``, and that per-row
``lower()`` was about half of the walk (``CNAS 检测`` at 100,000 services, the walk statement
alone: 10.7 ms with it, 6.1 ms against text stored lower-cased; README, "Performance"). The
application writes the text lower-cased already (``providers.catalogue.build_search_text``);
the trigger makes it a property of the table for every other writer — the previous release
during a rolling deploy, a bulk import in SQL — so the search never misses a row written in
capitals.
``search_grams`` (0017) is generated from the stored text and lower-cases it anyway.

SQLite: the rows lower-cased by Python's ``str.lower`` (SQLite's own ``lower()`` folds ASCII
only), as the application writes them; no trigger, as its search never walks rows with
``lower()`` (the FTS5 trigram tokenizer folds case itself).

Expand-only: a trigger and a data update; the previous release reads lower-cased text
correctly (it lower-cases both sides). The downgrade drops the trigger and leaves the text
lower-cased, which the previous release searches exactly as before.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION vm_lower_search_text() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := lower(NEW.search_text);
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        raw = bind.connection.driver_connection
        assert raw is not None
        raw.create_function("vm_lower", 1, str.lower, deterministic=True)
        op.execute(
            "UPDATE services SET search_text = vm_lower(search_text)"
            " WHERE search_text IS NOT vm_lower(search_text)"
        )
        return
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER services_search_text_lower BEFORE INSERT OR UPDATE OF search_text"
        " ON services FOR EACH ROW EXECUTE FUNCTION vm_lower_search_text()"
    )
    op.execute(
        "UPDATE services SET search_text = lower(search_text)"
        " WHERE search_text IS DISTINCT FROM lower(search_text)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS services_search_text_lower ON services")
    op.execute("DROP FUNCTION IF EXISTS vm_lower_search_text()")
