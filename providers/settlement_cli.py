"""``flask settlement …``: settle paid-out orders once the bank's value date has come.

Safe to re-run: only orders still ``paid_out`` and due are touched, each in its own
transaction, so an interrupted run loses nothing and a second run finds nothing to do.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace.db import commit, db_session, rollback, utcnow
from marketplace.errors import DomainError
from providers import payouts
from vouchers.rules import local_date

settlement_cli = AppGroup("settlement", help="Settlement: claims and payouts to providers.")


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
