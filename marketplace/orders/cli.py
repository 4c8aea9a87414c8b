"""``flask orders …``: the platform's own steps on orders."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from marketplace.clock import local_date
from marketplace.commands import each_in_its_own_transaction
from marketplace.db import db_session, utcnow
from marketplace.money import format_fen
from marketplace.orders import delivery

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
    per order; safe to re-run: an order confirmed, disputed or cancelled meanwhile fails alone
    (reported; exit status 1), so nothing happens twice."""
    now = delivery.china_noon(today.date()) if today is not None else utcnow()
    day: date = local_date(now)
    due = delivery.due_for_auto_confirm(db_session(), day)

    def confirm(session: Session, order_id: int) -> int:
        # Disputed or confirmed by its SME since the list was read: that order fails and the
        # rest go on. (After the voucher's claim deadline the order is confirmed with its
        # voucher part lapsed, not refused.)
        order = delivery.auto_confirm(session, order_id, now=now)
        session.refresh(order, ["events"])
        return order.voucher_lapsed_fen

    report = each_in_its_own_transaction(due, confirm, label=f"Confirming orders due before {day}")
    lapsed = [amount for amount in report.results if amount]
    click.echo(f"confirmed {len(report.results)} order(s), skipped {len(report.failures)}")
    if lapsed:
        click.echo(
            f"  {len(lapsed)} of them after the claim deadline: voucher part lapsed, "
            f"{format_fen(sum(lapsed))} back to programme budgets"
        )
    report.exit_status()
