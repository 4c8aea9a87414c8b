"""``flask settlement settle``: settle paid-out orders once the bank's value date has come; and
``flask ledger verify``: every invariant of the books, the payouts included.

Safe to re-run: only orders still ``paid_out`` and due are touched, each in its own
transaction, so an interrupted run loses nothing and a second run finds nothing to do.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace.db import commit, db_session, rollback, utcnow
from marketplace.errors import DomainError
from marketplace.settlement import payouts
from marketplace.settlement.ledger_checks import verify_books
from vouchers.rules import local_date

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
    session = db_session()
    settled = 0
    problems: list[tuple[int, DomainError]] = []
    try:
        due = payouts.orders_to_settle(session, day)
        with click.progressbar(due, label="settling orders", show_pos=True) as bar:
            for order_id in bar:
                try:
                    if payouts.settle_order(session, order_id, today=day, now=now):
                        settled += 1
                    commit(session)
                except DomainError as exc:
                    # Report it and carry on: one order's problem must not hold up the rest.
                    rollback(session)
                    problems.append((order_id, exc))
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()
    click.echo(f"settled {settled} order(s) as of {day.isoformat()}")
    for order_id, problem in problems:
        click.echo(f"  order {order_id}: {problem.code} — {problem.message}")
    if problems:
        raise SystemExit(1)


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
