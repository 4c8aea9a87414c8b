"""Command-line entry points (``flask --app marketplace …``). Each command is one transaction."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace import migrate
from marketplace.auth.models import User
from marketplace.auth.services import change_role, find_user, set_active
from marketplace.config import current_settings
from marketplace.db import db_session, transactional_command
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import DomainError

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="Demo data.")


def _url() -> str:
    return str(current_settings().database_url)


def _ensure_sqlite_dir() -> None:
    settings = current_settings()
    if settings.is_sqlite:
        settings.instance_dir.mkdir(parents=True, exist_ok=True)


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _ensure_sqlite_dir()
    migrate.upgrade(_url(), revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. 'base' or '-1')."""
    migrate.downgrade(_url(), revision)
    click.echo(f"database downgraded to {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--rev-id", required=True, help="sortable id, e.g. 0004")
def db_revision(message: str, rev_id: str) -> None:
    """Autogenerate a migration from the models (developers)."""
    from alembic import command

    command.revision(
        migrate.alembic_config(_url()), message=message, autogenerate=True, rev_id=rev_id
    )


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option(
    "--role",
    type=click.Choice(sorted(r.value for r in ADMIN_ROLES)),
    required=True,
    help="reviewer, finance, auditor or sysadmin",
)
@click.option("--name", "display_name", required=True)
@click.password_option(help="at least 12 characters, not guessable, without your e-mail or name")
@transactional_command
def create_admin(email: str, role: str, display_name: str, password: str) -> None:
    """Create an administrator account (the only way to make one)."""
    from marketplace.auth.services import create_admin as create

    try:
        user = create(
            db_session(), email=email, password=password, role=Role(role), display_name=display_name
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.role.value} {user.email} (id {user.id})")


def _account(email: str) -> User:
    try:
        return find_user(db_session(), email)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


@users_cli.command("suspend")
@click.option("--email", required=True)
@transactional_command
def suspend(email: str) -> None:
    """Suspend an account: its sessions end at once and its API tokens stop working."""
    user = set_active(db_session(), _account(email), False, actor_id=None)
    click.echo(f"suspended {user.email}; every session ended")


@users_cli.command("reinstate")
@click.option("--email", required=True)
@transactional_command
def reinstate(email: str) -> None:
    """Let a suspended account sign in again."""
    user = set_active(db_session(), _account(email), True, actor_id=None)
    click.echo(f"reinstated {user.email}")


@users_cli.command("set-role")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(sorted(r.value for r in ADMIN_ROLES)), required=True)
@transactional_command
def set_role(email: str, role: str) -> None:
    """Move an administrator to another administrative role (their sessions end)."""
    try:
        user = change_role(db_session(), _account(email), Role(role), actor_id=None)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{user.email} is now {user.role.value}; every session ended")


@demo_cli.command("seed")
@transactional_command
def demo_seed() -> None:
    """Create the demo programmes, providers, enterprises and accounts (idempotent)."""
    from marketplace.demo import print_credentials, seed

    result = seed(db_session())
    print_credentials(result)


def register_cli(app: Flask) -> None:
    from marketplace.jobs import jobs_cli
    from marketplace.notifications.cli import notifications_cli
    from marketplace.orders.cli import orders_cli
    from marketplace.payments.cli import payments_cli
    from marketplace.settlement.cli import ledger_cli, settlement_cli
    from providers.cli import providers_cli
    from vouchers.cli import vouchers_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(providers_cli)
    app.cli.add_command(settlement_cli)
    app.cli.add_command(vouchers_cli)
    app.cli.add_command(ledger_cli)
