"""Utilisation for the programme office on both databases: hours offered (opening hours less
closures), booked (confirmed), used, and the share used by SMEs paying with a voucher, per
instrument and provider and month (Beijing calendar)."""

from __future__ import annotations

from datetime import date, timedelta

from marketplace.instruments import services, utilisation
from marketplace.orders import services as order_services
from tests.support.instrument_fixtures import NOW, beijing, make_instrument

JUNE = date(2026, 6, 1)


def _book(session, w, start, hours, *, voucher, used=None, confirm=True):
    sme = w.sme()
    booking = services.request_booking(
        session, sme, w.service.id, starts_at=beijing(start), hours=hours, now=NOW
    )
    if not confirm:
        return booking
    services.confirm(session, booking.id, w.seller, now=NOW)
    order = booking.order
    chosen = w.orders.voucher_of(order.enterprise, w.orders.programme()) if voucher else None
    order_services.accept(
        session, order.id, sme, voucher_id=chosen.id if chosen else None, agree=True, now=NOW
    )
    w.orders._pay(order, now=NOW)
    if used is not None:
        services.record_use(
            session, booking.id, w.seller, used=used, now=booking.ends_at + timedelta(hours=1)
        )
    return booking


def test_monthly_figures_per_instrument_and_provider(session, order_world, orders_ctx):
    w = make_instrument(order_world)  # Mon–Fri 09–17: 8 hours a weekday
    services.add_closure(
        session,
        w.seller,
        w.service.id,
        starts_on=date(2026, 6, 19),
        ends_on=date(2026, 6, 19),
        reason="端午节",
    )
    _book(session, w, "2026-06-17 09:00", 4, voucher=True, used=3)
    _book(session, w, "2026-06-18 09:00", 2, voucher=False, used=2)
    _book(session, w, "2026-06-22 09:00", 2, voucher=True)  # confirmed, not yet used
    _book(session, w, "2026-06-23 09:00", 1, voucher=True, confirm=False)  # only requested
    _book(session, w, "2026-07-01 09:00", 3, voucher=True)  # next month
    idle = make_instrument(order_world)

    report = utilisation.monthly(session, JUNE)

    row = next(r for r in report.instruments if r.service_id == w.service.id)
    # June 2026 has 22 weekdays; the 19th is closed: 21 × 8 hours.
    assert (
        row.figures.offered_hours,
        row.figures.booked_hours,
        row.figures.used_hours,
        row.figures.voucher_used_hours,
    ) == (168, 8, 5, 3)
    assert row.figures.voucher_share_bps == 6000  # 3 of 5 used hours
    idle_row = next(r for r in report.instruments if r.service_id == idle.service.id)
    assert (idle_row.figures.booked_hours, idle_row.figures.voucher_share_bps) == (0, None)
    assert report.instruments[0].service_id == w.service.id  # busiest first
    provider = next(p for p in report.providers if p.provider_id == w.service.provider_id)
    assert provider.figures.used_hours == 5
    assert report.total.offered_hours == 168 + 176

    july = utilisation.monthly(session, date(2026, 7, 1))
    assert (
        next(r for r in july.instruments if r.service_id == w.service.id).figures.booked_hours == 3
    )


def test_month_input():
    today = date(2026, 6, 15)
    assert utilisation.parse_month("2026-02", today) == date(2026, 2, 1)
    assert utilisation.parse_month(None, today) == JUNE
    assert utilisation.parse_month("garbage", today) == JUNE


def test_the_command_prints_the_month(app, session, order_world, orders_ctx):
    w = make_instrument(order_world)
    _book(session, w, "2026-06-17 09:00", 2, voucher=True, used=2)
    result = app.test_cli_runner().invoke(args=["instruments", "utilisation", "--month", "2026-06"])
    assert result.exit_code == 0, result.output
    assert "场发射扫描电子显微镜" in result.output and "100.0%" in result.output
    bad = app.test_cli_runner().invoke(args=["instruments", "utilisation", "--month", "June"])
    assert bad.exit_code == 2
