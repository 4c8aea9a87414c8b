"""``flask notifications …``: the outbox sweeper."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from marketplace.db import db_session, transactional_command
from marketplace.notifications.services import requeue_pending

notifications_cli = AppGroup("notifications", help="E-mail notifications.")


@notifications_cli.command("send-pending")
@click.option("--older-than", default=10, show_default=True, help="minutes")
@transactional_command
def send_pending(older_than: int) -> None:
    """Send again every e-mail still queued after OLDER-THAN minutes (safe to re-run)."""
    count = requeue_pending(db_session(), older_than=timedelta(minutes=older_than))
    click.echo(f"{count} message(s) queued for delivery")
