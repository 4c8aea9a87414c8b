"""``flask instruments …``: the programme office's utilisation figures from the shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from marketplace.clock import local_date
from marketplace.db import db_session, utcnow
from marketplace.errors import ValidationFailed
from marketplace.instruments import utilisation

instruments_cli = AppGroup("instruments", help="Bookable instruments: utilisation.")


def _share(bps: int | None) -> str:
    return "–" if bps is None else f"{bps / 100:.1f}%"


@instruments_cli.command("utilisation")
@click.option("--month", default=None, help="YYYY-MM (Beijing calendar); default: this month.")
def utilisation_command(month: str | None) -> None:
    """Hours offered, booked and used per provider and instrument, and the voucher share."""
    try:
        first = utilisation.parse_month(month, local_date(utcnow()), strict=True)
    except ValidationFailed as refused:
        raise click.BadParameter(refused.message, param_hint="--month") from None
    report = utilisation.monthly(db_session(), first)
    click.echo(
        f"Instrument utilisation {first:%Y-%m} (hours: offered / booked / used, voucher share)"
    )
    for row in report.providers:
        f = row.figures
        click.echo(
            f"{row.provider_name}: {f.offered_hours} / {f.booked_hours} / {f.used_hours},"
            f" {_share(f.voucher_share_bps)}"
        )
    for item in report.instruments:
        f = item.figures
        click.echo(
            f"  {item.instrument_name} ({item.provider_name}): {f.offered_hours} /"
            f" {f.booked_hours} / {f.used_hours}, {_share(f.voucher_share_bps)}"
        )
    t = report.total
    click.echo(
        f"total: {t.offered_hours} / {t.booked_hours} / {t.used_hours},"
        f" {_share(t.voucher_share_bps)}"
    )
