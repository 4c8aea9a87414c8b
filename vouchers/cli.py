"""``flask vouchers expire`` (``flask ledger verify`` is in :mod:`marketplace.settlement.cli`: the
books include the payouts).

``expire`` commits voucher by voucher (one transaction each), so an interruption loses
nothing and a re-run picks up where it stopped; each voucher's expiry posting is keyed
``voucher:<id>:expire``, so nothing is ever returned to the budget twice.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace import clock
from marketplace.commands import each_in_its_own_transaction
from marketplace.db import db_session, utcnow
from marketplace.money import format_fen
from vouchers.expiry import expire_voucher, release_stale_hold, stale_holds, vouchers_due

vouchers_cli = AppGroup("vouchers", help="Voucher maintenance (expiry).")


@vouchers_cli.command("expire")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Run as of this date (YYYY-MM-DD, China time); default: today.",
)
def expire(today: datetime | None) -> None:
    """Expire vouchers past their use-by date and return their unused balance to the
    programme budget; release holds still open after the claim deadline. Safe to re-run.

    Open holds on an expired voucher stay valid until the programme's claim deadline (their
    orders may still complete); a hold released meanwhile returns to the budget.
    """
    now = utcnow()
    day: date = today.date() if today is not None else clock.local_date(now)
    session = db_session()
    vouchers = each_in_its_own_transaction(
        vouchers_due(session, day),
        lambda session, voucher_id: expire_voucher(session, voucher_id, today=day, now=now),
        label=f"Expiring vouchers used-by before {day}",
        item_id=lambda voucher_id: f"voucher {voucher_id}",
    )
    holds = each_in_its_own_transaction(
        stale_holds(session, day),
        lambda session, hold_id: release_stale_hold(session, hold_id, today=day, now=now),
        label="Releasing holds past the claim deadline",
        item_id=lambda hold_id: f"hold {hold_id}",
    )
    released = [amount for amount in holds.results if amount]
    click.echo(
        f"expired {len(vouchers.results)} voucher(s), returned {format_fen(sum(vouchers.results))} "
        f"to programme budgets; released {len(released)} stale hold(s), {format_fen(sum(released))}"
    )
    vouchers.failures.extend(holds.failures)
    vouchers.exit_status()
