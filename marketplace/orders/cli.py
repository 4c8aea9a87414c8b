"""``flask orders …``: the platform's own steps on orders."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace.db import commit, db_session, rollback, utcnow
from marketplace.errors import DomainError
from marketplace.orders import services
from vouchers.rules import local_date

orders_cli = AppGroup("orders", help="Orders: automatic confirmation.")


@orders_cli.command("auto-confirm")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Run as of this date (YYYY-MM-DD, China time); default: today.",
)
def auto_confirm(today: datetime | None) -> None:
    """Confirm delivered orders whose confirmation deadline has passed (the voucher part is
    captured for the provider). One transaction per order; safe to re-run: an order confirmed,
    disputed or cancelled meanwhile is skipped, so nothing happens twice."""
    now = services.china_noon(today.date()) if today is not None else utcnow()
    day: date = local_date(now)
    session = db_session()
    confirmed = skipped = 0
    problems: list[str] = []
    try:
        due = services.due_for_auto_confirm(session, day)
        with click.progressbar(due, label=f"Confirming orders due before {day}") as bar:
            for order_id in bar:
                try:
                    services.auto_confirm(session, order_id, now=now)
                    commit(session)
                    confirmed += 1
                except DomainError as exc:
                    # Disputed or confirmed by its SME since the list was read, or its
                    # voucher's claim deadline is over: report it, carry on with the rest.
                    rollback(session)
                    skipped += 1
                    problems.append(f"order {order_id}: {exc.code}: {exc.message}")
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()
    click.echo(f"confirmed {confirmed} order(s), skipped {skipped}")
    for line in problems:
        click.echo(f"  {line}", err=True)
