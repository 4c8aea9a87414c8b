"""``flask providers …``: admission once the public notice is over, and suspension of providers
whose accreditation lapsed. Both are safe to re-run: they only act on providers still in the
state they look for, and commit one provider at a time, so an interrupted run loses nothing."""

from __future__ import annotations

from datetime import date, datetime

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.commands import each_in_its_own_transaction
from marketplace.db import db_session
from providers import admission
from providers.errors import ObjectionsPending
from providers.models import Provider
from providers.services import get_provider, index_provider
from vouchers.enterprises import index_enterprise
from vouchers.models import Enterprise

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
    return today.date() if today is not None else clock.today()


@providers_cli.command("admit-due")
@_today_option
def admit_due(today: datetime | None) -> None:
    """Admit providers whose notice ended with no objection open or upheld."""
    day = _day(today)

    def admit(session: Session, item: admission.DueForAdmission) -> bool:
        provider = get_provider(session, item.provider_id)
        try:
            admission.admit(session, provider, actor_id=None, today=day)
        except ObjectionsPending as waiting:
            waiting.recovered()  # not a failure: a reviewer decides the objections first
            click.echo(f"\n  waiting #{item.provider_id} {item.name}: {waiting.code}")
            return False
        return True

    report = each_in_its_own_transaction(
        admission.due_for_admission(db_session(), day),
        admit,
        label="admitting",
        item_id=lambda item: f"provider #{item.provider_id} {item.name}",
    )
    click.echo(f"admitted {sum(report.results)} provider(s) as of {day.isoformat()}")
    report.exit_status()


@providers_cli.command("suspend-lapsed")
@_today_option
def suspend_lapsed(today: datetime | None) -> None:
    """Suspend admitted providers whose accepted accreditation documents of a kind have all
    expired (a renewal counts once a reviewer accepted it)."""
    day = _day(today)

    def suspend(
        session: Session, item: admission.LapsedProvider
    ) -> admission.LapsedProvider | None:
        suspended = admission.suspend_lapsed(session, item.provider_id, actor_id=None, today=day)
        return item if suspended else None

    report = each_in_its_own_transaction(
        admission.lapsed_providers(db_session(), day),
        suspend,
        label="suspending",
        item_id=lambda item: f"provider #{item.provider_id} {item.name}",
    )
    suspended = [item for item in report.results if item is not None]
    for item in suspended:
        click.echo(f"  suspended #{item.provider_id} {item.name}: {item.reason}")
    click.echo(f"suspended {len(suspended)} provider(s) as of {day.isoformat()}")
    report.exit_status()


@providers_cli.command("reindex-parties")
def reindex_parties() -> None:
    """Rebuild the related-party index (marketplace.parties) from every enterprise's and
    provider's current details: run once after upgrading to migration 0015, whose new index
    starts empty. Safe to re-run (each organisation's rows are replaced)."""
    session = db_session()
    items = [("enterprise", i) for i in session.scalars(sa.select(Enterprise.id))] + [
        ("provider", i) for i in session.scalars(sa.select(Provider.id))
    ]

    def reindex(session: Session, item: tuple[str, int]) -> bool:
        kind, ident = item
        if kind == "enterprise":
            enterprise = session.get(Enterprise, ident)
            if enterprise is not None:
                index_enterprise(session, enterprise)
        else:
            index_provider(session, get_provider(session, ident))
        return True

    report = each_in_its_own_transaction(
        items, reindex, label="indexing", item_id=lambda item: f"{item[0]} #{item[1]}"
    )
    click.echo(f"indexed {len(report.results)} organisation(s)")
    report.exit_status()
