"""``flask orders …``: the platform's own steps on orders."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from marketplace.clock import local_date
from marketplace.commands import each_in_its_own_transaction
from marketplace.config import current_settings
from marketplace.db import db_session, utcnow
from marketplace.invoice_verification import (
    LocalVerificationServer,
    NoVerifier,
    verifier_from_settings,
)
from marketplace.money import format_fen
from marketplace.orders import delivery, invoices

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


invoices_cli = AppGroup("invoices", help="Invoices: verification with the tax authority.")


@invoices_cli.command("verify-pending")
def verify_pending() -> None:
    """Ask the verification gateway (INVOICE_VERIFY_URL) again about every invoice not yet
    answered for. One transaction per invoice; safe to re-run."""
    verifier = verifier_from_settings(current_settings())
    if isinstance(verifier, NoVerifier):
        raise click.ClickException("INVOICE_VERIFY_URL is not set: nothing to ask")
    now = utcnow()
    report = each_in_its_own_transaction(
        invoices.unverified(db_session()),
        lambda session, invoice_id: invoices.verify(session, invoice_id, verifier, now=now),
        label="verifying invoices",
        item_id=lambda invoice_id: f"invoice {invoice_id}",
    )
    answers = [str(r) for r in report.results]
    click.echo(
        f"asked about {len(answers)} invoice(s): "
        + ", ".join(f"{a} {answers.count(a)}" for a in sorted(set(answers)))
    )
    report.exit_status()


@invoices_cli.command("verification-server")
@click.option("--port", type=int, default=8765, show_default=True)
def verification_server(port: int) -> None:
    """Run the local verification server on 127.0.0.1 (demo and development only), with the
    app id and secret of INVOICE_VERIFY_APP_ID / INVOICE_VERIFY_SECRET."""
    settings = current_settings()
    if settings.is_production:
        raise click.ClickException("the local verification server is for demo and tests only")
    server = LocalVerificationServer(
        settings.invoice_verify_app_id or "demo",
        settings.invoice_verify_secret or "demo-secret-0000",
        port=port,
    )
    click.echo(f"invoice verification server on {server.url} (Ctrl-C to stop)")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        server.httpd.server_close()
