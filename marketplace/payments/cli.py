"""``flask payments …``: convergence after crashes and lost webhooks."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from marketplace import jobs
from marketplace.db import db_session, transactional_command
from marketplace.payments import services

payments_cli = AppGroup("payments", help="Payments (Stripe and bank transfer).")


@payments_cli.command("sync")
@click.option("--older-than", default=15, show_default=True, help="minutes without news")
@click.option("--payment", "payment_ids", type=int, multiple=True, help="sync only these ids")
@transactional_command
def sync(older_than: int, payment_ids: tuple[int, ...]) -> None:
    """Queue a gateway sync for payments that may have missed an update (safe to re-run).

    Each sync opens a payment never opened at the gateway (same idempotency key), applies the
    gateway's status, records refunds whose answer was lost and carries out pending refunds.
    """
    session = db_session()
    ids = list(payment_ids) or services.payments_needing_sync(
        session, older_than=timedelta(minutes=older_than)
    )
    with click.progressbar(ids, label="queueing syncs") as bar:
        for payment_id in bar:
            services.get_payment(session, payment_id)
            jobs.enqueue(session, services.SYNC_JOB, payment_id)
    click.echo(f"{len(ids)} payment(s) queued for sync")
