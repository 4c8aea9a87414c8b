"""Command-line entry points (``flask --app marketplace …``). Each command is one transaction."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date, datetime

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from marketplace import clock, migrate
from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.auth.models import User
from marketplace.auth.services import change_role, close_account, find_user, set_active
from marketplace.config import current_settings
from marketplace.db import db_session, rollback, transactional_command, unit_of_work
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import DomainError
from marketplace.settlement.ledger_checks import verify_books
from providers.personal_data import anonymise_closed

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
users_cli = AppGroup("users", help="Accounts.")
accounts_cli = AppGroup("accounts", help="Personal data of accounts (retention).")
demo_cli = AppGroup("demo", help="Demo data.")
audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


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


@users_cli.command("close")
@click.option("--email", required=True)
@transactional_command
def close(email: str) -> None:
    """Close an account: it can no longer sign in; its personal data is anonymised after the
    retention period (``accounts retention``)."""
    try:
        user = close_account(db_session(), _account(email), actor_id=None)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"closed {user.email}; every session ended")


@accounts_cli.command("retention")
@click.option(
    "--years",
    type=click.IntRange(min=1),
    default=None,
    help="anonymise accounts closed longer ago than this (default: RETENTION_YEARS, 3)",
)
@transactional_command
def retention(years: int | None) -> None:
    """Anonymise the personal data of accounts closed longer than the retention period, and
    the contacts of organisations with nobody left. Ledger, orders and the audit trail keep
    their references (``audit verify`` still passes)."""
    years = years if years is not None else current_settings().retention_years
    report = anonymise_closed(db_session(), years=years)
    click.echo(
        f"anonymised {report.users} account(s), {report.enterprises} enterprise(s) and "
        f"{report.providers} provider(s) closed more than {years} year(s) ago"
    )


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


# --------------------------------------------------------------------------- audit
# Here, in the app layer, because ``audit verify`` checks the trail (kernel) and the books
# (settlement) together, as the issue asks; the chain's logic is marketplace/audit/chain.py.


@audit_cli.command("seal")
@transactional_command
def audit_seal() -> None:
    """Seal every committed record into the chain (cron: every minute; the job does it too)."""
    sealed = chain.seal(db_session())
    seq, head = chain.head(db_session())
    click.echo(f"sealed {sealed} record(s); chain head at position {seq} ({head[:16]}…)")


@audit_cli.command("checkpoint")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="the Beijing calendar day (YYYY-MM-DD; default: today)",
)
@transactional_command
def audit_checkpoint(day: datetime | None) -> None:
    """Sign the chain's head for the day (cron: daily). Does nothing if the day has one."""
    when: date = day.date() if day is not None else clock.today()
    cp = chain.checkpoint(db_session(), when)
    click.echo(
        f"checkpoint {cp.day}: position {cp.seq}, head {cp.head_hash[:16]}…, key {cp.key_id}"
    )


@audit_cli.command("export-checkpoint")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True)
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="the checkpoint's day (default: the newest)",
)
def audit_export_checkpoint(out_path: str, day: datetime | None) -> None:
    """Write the signed checkpoint and the trail up to it (JSON lines) for an inspector."""
    session = db_session()
    try:
        with open(out_path, "w", encoding="utf-8") as out:
            cp = chain.export_copy(session, out, day.date() if day is not None else None)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        rollback(session)
    click.echo(f"wrote checkpoint {cp.day} and {cp.seq} record(s) to {out_path}")


@audit_cli.command("verify")
@click.option(
    "--copy",
    "copy_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="check an exported copy (audit export-checkpoint) instead of the database",
)
def audit_verify(copy_path: str | None) -> None:
    """Check the chain, every record's MAC, the signed checkpoints and the ledger's postings;
    exit with status 1 naming the first record changed, deleted or inserted."""
    if copy_path is not None:
        with open(copy_path, encoding="utf-8") as lines:
            report = chain.verify_copy(lines)
        _print_chain(report)
        sys.exit(0 if report.ok else 1)
    # Seal the newest records first, in a transaction of their own, so the check covers them.
    with unit_of_work() as sealing:
        chain.seal(sealing)
    session = db_session()
    try:
        total = int(session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0)
        # click draws the bar only on a terminal; piped or logged, it prints the label once.
        with click.progressbar(length=total, label="checking the audit trail") as bar:
            report = chain.verify(session, progress=bar.update)
        books = verify_books(session)
    finally:
        rollback(session)
        session.close()
    _print_chain(report)
    for check in books.checks:
        mark = "OK  " if check.ok else "FAIL"
        click.echo(f"[{mark}] ledger {check.name}: {check.description} ({check.checked} checked)")
        for breach in check.breaches:
            click.echo(f"         - {breach}")
    sys.exit(0 if report.ok and books.ok else 1)


def _print_chain(report: chain.ChainReport) -> None:
    mark = "OK  " if report.ok else "FAIL"
    click.echo(
        f"[{mark}] audit chain: {report.checked} record(s) checked, {report.sealed} sealed, "
        f"{report.checkpoints} signed checkpoint(s)"
    )
    for problem in report.problems:
        click.echo(f"         - {problem}")


exports_cli = AppGroup("exports", help="The pages' CSV/XLSX exports, from the command line.")


@exports_cli.command("run")
@click.argument("url")
@click.argument("output", type=click.Path(dir_okay=False, writable=True))
@click.option("--as", "email", required=True, help="E-mail of the user the export runs as.")
def exports_run(url: str, output: str, email: str) -> None:
    """Write the export a page links to (e.g. '/admin/audit.xlsx?action=order.&lang=en') to
    OUTPUT, with that page's filters and the permissions of the user --as: the same file the
    page's download or background job gives. A progress bar on a terminal."""
    from flask import current_app

    from marketplace import exports
    from marketplace.web.jobs.exports import ExportRefused, export_as

    with unit_of_work() as session:
        try:
            user_id = find_user(session, email).id
        except DomainError as exc:
            exc.recovered()
            raise click.ClickException(exc.message) from None
    written = 0

    def sink(
        stem: str,
        kind: exports.Format,
        header: exports.Row,
        rows: Iterable[exports.Row],
        total: int | None,
    ) -> None:
        with click.progressbar(length=max(total or 0, 1), label=f"{stem}.{kind.value}") as bar:

            def progress(done: int) -> None:
                nonlocal written
                if total:  # without a total there is no bar to move, only the count at the end
                    bar.update(done - written)
                written = done

            exports.write_file(output, kind, header, rows, sheet=stem, progress=progress)

    try:
        export_as(current_app, url, user_id, sink)
    except ExportRefused as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{written} row(s) written to {output}")


def register_cli(app: Flask) -> None:
    from marketplace.instruments.cli import instruments_cli
    from marketplace.jobs import jobs_cli
    from marketplace.notifications.cli import notifications_cli
    from marketplace.ops.cli import ops_cli
    from marketplace.orders.cli import invoices_cli, orders_cli
    from marketplace.payments.cli import payments_cli
    from marketplace.risk.cli import risk_cli
    from marketplace.settlement.cli import ledger_cli, settlement_cli
    from providers.cli import providers_cli
    from vouchers.cli import vouchers_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(invoices_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(exports_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(providers_cli)
    app.cli.add_command(risk_cli)
    app.cli.add_command(settlement_cli)
    app.cli.add_command(vouchers_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(ops_cli)
    app.cli.add_command(instruments_cli)
