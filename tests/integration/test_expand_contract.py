"""Issue 17: deploys without downtime. Migrations are *expand* steps, so the release that is
still serving keeps working on the schema the next release migrated (README, "Deploys without
downtime").

* This release's read paths against the schema one migration ahead: the database is migrated
  to head, then a next release's typical expand step is applied (a new nullable column on every
  table, a new table); the demo is seeded and every page and every API listing without path
  arguments is read as each demo account. None may fail.
* Our own migration is expand-only: the previous release's insert into the outbox (which does
  not know the new columns) still succeeds on the migrated schema.
* A static check: migrations from 0013 on drop, rename or tighten nothing in ``upgrade`` (a
  contract step ships in a later release, once no running code needs the old shape).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.auth.models import User
from marketplace.db import create_engine, utcnow
from marketplace.demo import DEMO_PASSWORD
from marketplace.models import metadata
from tests.conftest import app_config
from tests.support.fixtures import second_factor_code

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
#: Migrations written under the expand/contract rule (the earlier ones predate it).
FIRST_EXPAND_ONLY = "0013"
CONTRACT_CALLS = {"drop_column", "drop_table", "drop_constraint", "rename_table"}
#: Reviewed exceptions, each with its deploy rule (README, "Deploys without downtime").
#: 0014 backfills every audit record's MAC, then makes the MAC and its nonce required: the
#: previous release writes audit records without them, so 0014 is deployed with the old
#: workers stopped (a short maintenance window), never under a rolling restart.
STOP_THE_WORLD = {"0014_audit_chain_freezes.py"}
#: Reviewed contract-looking calls that only widen, safe under a rolling restart: 0018 drops
#: the ledger account kind CHECK to create it again with four more kinds in the same
#: transaction; every kind the previous release writes stays allowed.
#: 0022 does the same for the kind CHECK and the funder-kind CHECK, adding ``funder_paid``.
WIDENING = {
    ("0018_funders.py", "drop_constraint"),
    ("0022_payouts_per_treasury.py", "drop_constraint"),
}


def _next_release_expand(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            op = Operations(MigrationContext.configure(conn))
            for table in metadata.sorted_tables:
                op.add_column(table.name, sa.Column("next_release_note", sa.String(50)))
            op.create_table(
                "next_release_things",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id")),
            )
    finally:
        engine.dispose()


def _get_routes(app, prefix: str) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
        and not rule.arguments
        and rule.rule.startswith(prefix)
        and rule.endpoint not in {"static", "ops.metrics", "api.docs", "api.openapi"}
        and not rule.rule.startswith(("/logout", "/static"))
    )


def test_this_release_reads_the_schema_one_migration_ahead(database, tmp_path):
    url = database.fresh("ahead")
    _next_release_expand(url)
    app = create_app(app_config(url, tmp_path))
    # Administrators sign in with their second factor (the demo enrols them).
    people = Session(app.extensions["db"].engine)
    try:
        seeded = app.test_cli_runner().invoke(args=["demo", "seed"])
        assert seeded.exit_code == 0, seeded.output
        accounts = sorted(set(re.findall(r"\S+@demo\.example\.cn", seeded.output)))
        assert len(accounts) >= 6
        pages = [r for r in _get_routes(app, "/") if not r.startswith("/api/")]
        api_lists = _get_routes(app, "/api/v1/")
        failures = []
        admins = set(people.scalars(sa.select(User.email).where(User.totp_secret.is_not(None))))
        people.rollback()
        for email in accounts:
            client = app.test_client()
            signed_in = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
            if signed_in.headers.get("Location", "").startswith("/login/second-factor"):
                code = _code_for(people, email)
                signed_in = client.post(signed_in.headers["Location"], data={"code": code})
            assert signed_in.status_code in (302, 303), (email, signed_in.status_code)
            for path in pages:
                status = client.get(path).status_code
                if status >= 500:
                    failures.append((email, path, status))
            ask: dict[str, str] = {"email": email, "password": DEMO_PASSWORD, "name": "ahead"}
            if email in admins:
                ask["code"] = _code_for(people, email)
            created = client.post("/api/v1/auth/tokens", json=ask)
            assert created.status_code == 201, created.get_json()
            headers = {"Authorization": f"Bearer {created.get_json()['token']}"}
            for path in api_lists:
                status = client.get(path, headers=headers).status_code
                if status >= 500:
                    failures.append((email, path, status))
        assert not failures, failures
        assert len(pages) > 10 and len(api_lists) > 10
    finally:
        people.close()
        app.extensions["db"].engine.dispose()


def _code_for(people: Session, email: str) -> str:
    """The person's next second-factor code, read in a transaction that ends at once (an open
    read would hold SQLite's writers back)."""
    try:
        user = people.scalars(sa.select(User).where(User.email == email)).one()
        return second_factor_code(people, user)
    finally:
        people.commit()


def test_the_previous_release_still_writes_the_outbox_after_0013(database):
    """0009's code inserts outbox rows naming only the columns it knows."""
    url = database.fresh("outbox_0013")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO outbound_emails (to_address, template, subject, body, status, "
                    "created_at) VALUES ('a@b.cn', 't', 's', 'b', 'queued', :at)"
                ),
                {"at": utcnow().replace(tzinfo=None)},
            )
            attempts, due = conn.execute(
                sa.text("SELECT attempts, next_attempt_at FROM outbound_emails")
            ).one()
    finally:
        engine.dispose()
    assert (attempts, due) == (0, None)


def test_new_migrations_only_expand():
    offenders = []
    for path in sorted(MIGRATIONS.glob("*.py")):
        if path.name[:4] < FIRST_EXPAND_ONLY or path.name in STOP_THE_WORLD:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        upgrade = next(
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"
        )
        for node in ast.walk(upgrade):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                tightens = name == "alter_column" and any(
                    k.arg in {"nullable", "new_column_name", "type_"} for k in node.keywords
                )
                adds_required = name == "add_column" and _required_without_default(node)
                widens = (path.name, name) in WIDENING
                if (name in CONTRACT_CALLS and not widens) or tightens or adds_required:
                    offenders.append(f"{path.name}:{node.lineno} {name}")
    assert not offenders, offenders


def _required_without_default(call: ast.Call) -> bool:
    column = call.args[-1] if call.args else None
    if not isinstance(column, ast.Call):
        return False
    keywords = {k.arg: k.value for k in column.keywords}
    nullable = keywords.get("nullable")
    required = isinstance(nullable, ast.Constant) and nullable.value is False
    return required and "server_default" not in keywords


def test_the_expand_check_catches_a_contract_step(tmp_path, monkeypatch):
    bad = tmp_path / "0014_bad.py"
    bad.write_text(
        "def upgrade():\n"
        "    op.drop_column('orders', 'note')\n"
        "    op.add_column('orders', sa.Column('x', sa.Integer(), nullable=False))\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.MIGRATIONS", tmp_path)
    try:
        test_new_migrations_only_expand()
    except AssertionError as exc:
        assert "0014_bad.py:2 drop_column" in str(exc)
        assert "0014_bad.py:3 add_column" in str(exc)
    else:
        raise AssertionError("the check let a contract step through")
