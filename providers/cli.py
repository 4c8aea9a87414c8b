"""``flask providers …``: admission once the public notice is over, and suspension of providers
whose accreditation lapsed. Both are safe to re-run: they only act on providers still in the
state they look for, and commit one provider at a time, so an interrupted run loses nothing."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup

from marketplace.db import commit, db_session, rollback
from marketplace.errors import DomainError
from providers import admission
from providers.services import get_provider, local_today

providers_cli = AppGroup(
    "providers", help="Providers: admission after notice, accreditation lapse."
)

_today_option = click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="the date to act as of (YYYY-MM-DD; default: today in China)",
)


def _day(today: datetime | None) -> date:
    return today.date() if today is not None else local_today()


@providers_cli.command("admit-due")
@_today_option
def admit_due(today: datetime | None) -> None:
    """Admit providers whose notice ended with no objection open or upheld."""
    day = _day(today)
    session = db_session()
    due = admission.due_for_admission(session, day)
    admitted = 0
    skipped: list[tuple[admission.DueForAdmission, DomainError]] = []
    with click.progressbar(due, label="admitting", show_pos=True) as bar:
        for item in bar:
            try:
                provider = get_provider(session, item.provider_id)
                admission.admit(session, provider, actor_id=None, today=day)
                commit(session)
                admitted += 1
            except DomainError as exc:
                rollback(session)
                skipped.append((item, exc))
    click.echo(f"admitted {admitted} provider(s) as of {day.isoformat()}")
    for item, error in skipped:
        click.echo(f"  skipped #{item.provider_id} {item.name}: {error.code} — {error.message}")


@providers_cli.command("suspend-lapsed")
@_today_option
def suspend_lapsed(today: datetime | None) -> None:
    """Suspend admitted providers whose accepted accreditation documents of a kind have all
    expired (a renewal counts once a reviewer accepted it)."""
    day = _day(today)
    session = db_session()
    lapsed = admission.lapsed_providers(session, day)
    suspended = 0
    with click.progressbar(lapsed, label="suspending", show_pos=True) as bar:
        for item in bar:
            if admission.suspend_lapsed(session, item.provider_id, actor_id=None, today=day):
                suspended += 1
                click.echo(f"\n  suspended #{item.provider_id} {item.name}: {item.reason}")
            commit(session)
    click.echo(f"suspended {suspended} provider(s) as of {day.isoformat()}")
