"""``flask vouchers expire`` (``flask ledger verify`` is in :mod:`marketplace.settlement.cli`: the
books include the payouts).

``expire`` commits voucher by voucher (one transaction each), so an interruption loses
nothing and a re-run picks up where it stopped; each voucher's expiry posting is keyed
``voucher:<id>:expire``, so nothing is ever returned to the budget twice.
"""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from marketplace.db import commit, db_session, rollback, utcnow
from marketplace.money import format_fen
from vouchers import rules
from vouchers.expiry import expire_voucher, release_stale_hold, stale_holds, vouchers_due

vouchers_cli = AppGroup("vouchers", help="Voucher maintenance (expiry).")


@vouchers_cli.command("expire")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Run as of this date (YYYY-MM-DD, China time); default: today.",
)
def expire(today: object | None) -> None:
    """Expire vouchers past their use-by date and return their unused balance to the
    programme budget; release holds still open after the claim deadline. Safe to re-run.

    Open holds on an expired voucher stay valid until the programme's claim deadline (their
    orders may still complete); a hold released meanwhile returns to the budget.
    """
    now = utcnow()
    day: date = today.date() if today is not None else rules.local_date(now)  # type: ignore[attr-defined]
    session = db_session()
    try:
        due = vouchers_due(session, day)
        returned = expired = 0
        with click.progressbar(due, label=f"Expiring vouchers used-by before {day}") as bar:
            for voucher_id in bar:
                amount = expire_voucher(session, voucher_id, today=day, now=now)
                commit(session)
                expired += 1
                returned += amount
        stale = stale_holds(session, day)
        released_fen = released = 0
        with click.progressbar(stale, label="Releasing holds past the claim deadline") as bar:
            for hold_id in bar:
                amount = release_stale_hold(session, hold_id, today=day, now=now)
                commit(session)
                released += 1 if amount else 0
                released_fen += amount
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()
    click.echo(
        f"expired {expired} voucher(s), returned {format_fen(returned)} to programme budgets; "
        f"released {released} stale hold(s), {format_fen(released_fen)}"
    )
