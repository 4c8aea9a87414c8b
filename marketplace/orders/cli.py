"""``flask orders …``: the platform's own steps on orders."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace.db import commit, db_session, rollback, utcnow
from marketplace.errors import DomainError
from marketplace.money import format_fen
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
    captured for the provider, or lapses after the voucher's claim deadline). One transaction
    per order; safe to re-run: an order confirmed, disputed or cancelled meanwhile is skipped,
    so nothing happens twice."""
    now = services.china_noon(today.date()) if today is not None else utcnow()
    day: date = local_date(now)
    session = db_session()
    confirmed = skipped = lapsed = lapsed_fen = 0
    problems: list[str] = []
    try:
        due = services.due_for_auto_confirm(session, day)
        with click.progressbar(due, label=f"Confirming orders due before {day}") as bar:
            for order_id in bar:
                try:
                    order = services.auto_confirm(session, order_id, now=now)
                    session.refresh(order, ["events"])
                    amount = order.voucher_lapsed_fen
                    commit(session)
                    confirmed += 1
                    lapsed += 1 if amount else 0
                    lapsed_fen += amount
                except DomainError as exc:
                    # Disputed or confirmed by its SME since the list was read: report it,
                    # carry on with the rest. (After the voucher's claim deadline the order
                    # is confirmed with its voucher part lapsed, not skipped.)
                    rollback(session)
                    skipped += 1
                    problems.append(f"order {order_id}: {exc.code}: {exc.message}")
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()
    click.echo(f"confirmed {confirmed} order(s), skipped {skipped}")
    if lapsed:
        click.echo(
            f"  {lapsed} of them after the claim deadline: voucher part lapsed, "
            f"{format_fen(lapsed_fen)} back to programme budgets"
        )
    for line in problems:
        click.echo(f"  {line}", err=True)
