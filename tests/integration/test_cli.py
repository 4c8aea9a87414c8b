"""Command-line entry points: administrators, demo data, migrations."""

import sqlalchemy as sa

from marketplace import create_app
from marketplace.auth.models import User
from marketplace.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, seed
from marketplace.enums import Role
from tests.conftest import app_config
from vouchers.models import Enterprise, Programme


def test_create_admin(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--email",
            "Fin@Example.cn",
            "--role",
            "finance",
            "--name",
            "财务",
            "--password",
            "a-strong-password",
        ],
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(sa.select(User).where(User.email == "fin@example.cn"))
    assert user.role is Role.FINANCE


def test_create_admin_refuses_weak_passwords_and_duplicates(app, session, create_user):
    runner = app.test_cli_runner()
    weak = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--email",
            "a@x.cn",
            "--role",
            "auditor",
            "--name",
            "A",
            "--password",
            "short",
        ]
    )
    assert weak.exit_code != 0 and "password" in weak.output.lower()
    existing = create_user(Role.REVIEWER)
    dup = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--email",
            existing.email,
            "--role",
            "auditor",
            "--name",
            "A",
            "--password",
            "a-strong-password",
        ]
    )
    assert dup.exit_code != 0 and "already exists" in dup.output
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_create_admin_refuses_non_admin_roles(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create-admin",
            "--email",
            "e@x.cn",
            "--role",
            "enterprise",
            "--name",
            "E",
            "--password",
            "a-strong-password",
        ]
    )
    assert result.exit_code == 2  # click refuses the choice


def test_demo_seed_is_idempotent_and_prints_credentials(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    for email, _role, _name, _org in DEMO_ACCOUNTS:
        assert email in first.output
    counts = [
        session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (User, Enterprise, Programme)
    ]
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "nothing new" in second.output
    assert [
        session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (User, Enterprise, Programme)
    ] == counts
    roles = set(session.scalars(sa.select(User.role)))
    assert roles == set(Role)  # one account per role at least
    kinds = {p.kind.value for p in session.scalars(sa.select(Programme))}
    assert kinds == {"innovation", "service"}


def test_demo_enterprises_are_in_yunnan_with_valid_codes(session):
    from marketplace.credit_code import parse_credit_code

    seed(session)
    for enterprise in session.scalars(sa.select(Enterprise)):
        assert parse_credit_code(enterprise.credit_code).is_yunnan


def test_db_upgrade_and_downgrade_commands(database, tmp_path):
    app = create_app(app_config(database.fresh("cli"), tmp_path))
    runner = app.test_cli_runner()
    try:
        assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
        with app.app_context():
            engine = app.extensions["db"].engine
            assert "users" not in sa.inspect(engine).get_table_names()
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert "users" in sa.inspect(engine).get_table_names()
    finally:
        app.extensions["db"].engine.dispose()
