"""``flask settlement settle``: settle paid-out orders once the bank's value date has come; and
``flask ledger verify``: every invariant of the books, the payouts included.

Safe to re-run: only orders still ``paid_out`` and due are touched, each in its own
transaction (:mod:`marketplace.commands`), so an interrupted run loses nothing and a second run
finds nothing to do.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace.clock import local_date
from marketplace.commands import each_in_its_own_transaction
from marketplace.db import db_session, rollback, utcnow
from marketplace.settlement import payouts
from marketplace.settlement.ledger_checks import verify_books

settlement_cli = AppGroup("settlement", help="Settlement: claims and payouts to providers.")
ledger_cli = AppGroup("ledger", help="The double-entry ledger.")


@settlement_cli.command("settle")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="the date to act as of (YYYY-MM-DD; default: today in China)",
)
def settle(today: datetime | None) -> None:
    """Move paid-out orders whose bank payment is confirmed and due to settled."""
    now = utcnow()
    day: date = today.date() if today is not None else local_date(now)
    report = each_in_its_own_transaction(
        payouts.orders_to_settle(db_session(), day),
        lambda session, order_id: payouts.settle_order(session, order_id, today=day, now=now),
        label="settling orders",
        item_id=lambda order_id: f"order {order_id}",
    )
    click.echo(f"settled {sum(report.results)} order(s) as of {day.isoformat()}")
    report.exit_status()


@ledger_cli.command("verify")
def verify() -> None:
    """Check every ledger invariant; exit with status 1 if any is breached."""
    session = db_session()
    try:
        report = verify_books(session)
    finally:
        rollback(session)
        session.close()
    for check in report.checks:
        mark = "OK  " if check.ok else "FAIL"
        click.echo(f"[{mark}] {check.name}: {check.description} ({check.checked} checked)")
        for breach in check.breaches:
            click.echo(f"         - {breach}")
    if report.ok:
        click.echo(f"ledger verified: {len(report.checks)} checks, no breach")
        return
    click.echo(f"LEDGER BREACHED: {report.breach_count} problem(s)", err=True)
    raise SystemExit(1)
