"""``flask risk assess``: refresh every agreed order's risk flags and score (run it nightly;
drawing a sample assesses too). One transaction: a half-assessed set of orders would make a
sample's weights inconsistent."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from marketplace.db import db_session, transactional_command
from marketplace.risk import services

risk_cli = AppGroup("risk", help="Risk flags and scores.")


@risk_cli.command("assess")
@transactional_command
def assess() -> None:
    """Assess every agreed order against the risk rules and store flags and scores."""
    report = services.assess(db_session())
    click.echo(
        f"assessed {report.orders} order(s): {report.flagged} flagged, {report.flags} flag(s)"
    )
