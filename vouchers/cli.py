"""``flask vouchers expire`` (``flask ledger verify`` is in :mod:`marketplace.settlement.cli`: the
books include the payouts).

``expire`` commits voucher by voucher (one transaction each), so an interruption loses
nothing and a re-run picks up where it stopped; each voucher's expiry posting is keyed
``voucher:<id>:expire``, so nothing is ever returned to the budget twice.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.auth.services import find_user
from marketplace.commands import each_in_its_own_transaction
from marketplace.db import db_session, unit_of_work, utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.money import format_fen
from vouchers import issuance
from vouchers.expiry import expire_voucher, release_stale_hold, stale_holds, vouchers_due
from vouchers.models import IssuanceBatch

vouchers_cli = AppGroup("vouchers", help="Voucher maintenance (expiry, bulk issuance).")


@vouchers_cli.command("bulk-issue")
@click.argument("programme_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--actor", required=True, help="E-mail of the reviewer the issuance is recorded for.")
def bulk_issue(programme_id: int, path: str, actor: str) -> None:
    """Issue vouchers from a CSV or XLSX file (the page's template), as the page's job does:
    chunk by chunk, each row issued or refused on its own, a report per row; the same file
    is never issued twice (a re-run says so and succeeds). A progress bar on a terminal; exit
    status 1 if no row of a new file was issued.
    """
    with open(path, "rb") as stream:
        data = stream.read()
    with unit_of_work() as session:
        try:
            user = find_user(session, actor)
        except DomainError as exc:
            exc.recovered()
            raise click.ClickException(f"{actor} is not a reviewer") from None
        if user.role is not Role.REVIEWER:
            raise click.ClickException(f"{actor} is not a reviewer")
        actor_id = user.id
    outcome: dict[str, object] = {}
    bar = click.progressbar(length=1, label="issuing", show_pos=True)

    def progress(_session: Session, done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)

    def finish(_session: Session, batch: IssuanceBatch, replayed: bool) -> None:
        outcome.update(
            replayed=replayed,
            batch=batch.id,
            report=list(batch.report or []),
            issued=batch.issued_count,
            refused=batch.refused_count,
            fen=batch.issued_fen,
        )

    try:
        with bar:
            issuance.issue_file(
                data,
                os.path.basename(path),
                programme_id,
                actor_id,
                transaction=unit_of_work,
                progress=progress,
                finish=finish,
            )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    for row in outcome["report"]:  # type: ignore[attr-defined]
        result = row["serial"] if row["outcome"] == "issued" else f"{row['code']}: {row['message']}"
        click.echo(f"line {row['line']}: {row['outcome']} {result}")
    if outcome["replayed"]:
        click.echo(f"batch #{outcome['batch']}: this file was already issued; nothing issued again")
    click.echo(
        f"batch #{outcome['batch']}: {outcome['issued']} issued "
        f"({format_fen(int(outcome['fen']))}), {outcome['refused']} refused"  # type: ignore[call-overload]
    )
    if not outcome["replayed"] and not outcome["issued"]:
        sys.exit(1)


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
