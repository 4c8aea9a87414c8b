"""A booking from request to claim through the real order, voucher and settlement services,
on both databases: the confirmed booking is an order priced hours × rate, the voucher pays at
most half (held at acceptance), fewer hours used lower the price, the voucher part and the
co-payment (never raise them), and the claim goes through. Plus the provider's terms for
cancellations and no-shows, and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.errors import PermissionDenied
from marketplace.instruments import services
from marketplace.instruments.enums import BookingStatus
from marketplace.instruments.errors import (
    BookingNotFound,
    CancellationTooLate,
    IllegalBookingMove,
    UsageInvalid,
)
from marketplace.instruments.models import BookingEvent
from marketplace.notifications.models import OutboundEmail
from marketplace.orders import delivery
from marketplace.orders import services as order_services
from marketplace.orders.enums import OrderStatus
from marketplace.orders.errors import IllegalTransition
from marketplace.settlement import claims
from marketplace.settlement.enums import ClaimLineStatus
from tests.conftest import rows
from tests.support.instrument_fixtures import NOW, RATE_FEN, beijing, make_instrument
from vouchers.enums import HoldStatus
from vouchers.models import Hold

SLOT = beijing("2026-06-17 09:00")
AFTER = SLOT + timedelta(hours=5)


def _booked(session, w, *, hours=4, status=OrderStatus.PAID):
    """A booking of ``hours`` from SLOT, confirmed, accepted with a voucher and paid."""
    sme = w.sme()
    booking = services.request_booking(
        session, sme, w.service.id, starts_at=SLOT, hours=hours, note="样品 3 个", now=NOW
    )
    services.confirm(session, booking.id, w.seller, now=NOW)
    order = booking.order
    voucher = w.orders.voucher_of(order.enterprise, w.orders.programme())
    order_services.accept(session, order.id, sme, voucher_id=voucher.id, agree=True, now=NOW)
    if status is OrderStatus.PAID:
        w.orders._pay(order, now=NOW)
    return booking, sme


def test_booking_to_order_to_hold_to_hours_used_to_claim(session, instrument):
    w = instrument
    sme = w.sme()
    booking = services.request_booking(
        session, sme, w.service.id, starts_at=SLOT, hours=4, note="样品 3 个", now=NOW
    )
    order = booking.order
    assert (booking.status, order.status, order.quantity) == (
        BookingStatus.REQUESTED,
        OrderStatus.REQUESTED,
        4,
    )
    services.confirm(session, booking.id, w.seller, now=NOW)
    assert booking.status is BookingStatus.CONFIRMED
    assert (order.status, order.price_fen) == (OrderStatus.QUOTED, 4 * RATE_FEN)

    voucher = w.orders.voucher_of(order.enterprise, w.orders.programme())
    order_services.accept(session, order.id, sme, voucher_id=voucher.id, agree=True, now=NOW)
    hold = session.get(Hold, order.hold_id)
    # 50% ceiling: ¥1,200 booked → the voucher holds ¥600, the SME pays ¥600.
    assert (hold.amount_fen, order.voucher_part_fen, order.co_payment_fen) == (
        60_000,
        60_000,
        60_000,
    )
    w.orders._pay(order, now=NOW)
    assert order.status is OrderStatus.PAID

    with pytest.raises(UsageInvalid):  # before the slot
        services.record_use(session, booking.id, w.seller, used=3, now=SLOT - timedelta(hours=1))
    with pytest.raises(UsageInvalid):  # more than booked is a new agreement, not a record
        services.record_use(session, booking.id, w.seller, used=5, now=AFTER)

    services.record_use(session, booking.id, w.seller, used=3, now=AFTER)
    assert (booking.status, booking.used_quantity) == (BookingStatus.USED, 3)
    # 3 hours used: price ¥900, voucher at most ¥450, co-payment ¥450, ¥150 owed back.
    assert (order.price_fen, order.voucher_part_fen, order.co_payment_fen) == (
        90_000,
        45_000,
        45_000,
    )
    assert order.refund_due_fen == 15_000

    w.orders._deliver(order, now=AFTER)
    delivery.confirm(session, order.id, sme, now=AFTER + timedelta(days=1))
    session.refresh(hold)
    assert (hold.status, hold.captured_fen) == (HoldStatus.CAPTURED, 45_000)

    claim = claims.create_claim(
        session,
        order.provider_id,
        [order.id],
        actor_id=w.seller.id,
        now=AFTER + timedelta(days=3),
        cooling_off_days=0,
    )
    assert [(line.order_id, line.amount_fen) for line in claim.lines] == [(order.id, 45_000)]
    assert claim.lines[0].status is not ClaimLineStatus.REJECTED
    assert [
        e.action for e in rows(session, BookingEvent, BookingEvent.booking_id == booking.id)
    ] == [
        "request",
        "confirm",
        "record_use",
    ]


def test_all_hours_used_keeps_the_price(session, instrument):
    booking, _ = _booked(session, instrument, hours=2)
    services.record_use(session, booking.id, instrument.seller, used=2, now=AFTER)
    assert (booking.order.price_fen, booking.order.refund_due_fen) == (2 * RATE_FEN, 0)


def test_use_is_recorded_once_the_co_payment_is_in(session, instrument):
    booking, _ = _booked(session, instrument, hours=2, status=OrderStatus.AGREED)
    with pytest.raises(IllegalTransition):
        services.record_use(session, booking.id, instrument.seller, used=1, now=AFTER)


def test_no_show_is_charged_from_the_co_payment_under_the_terms(session, instrument):
    booking, _ = _booked(session, instrument, hours=4)
    order = booking.order
    hold = session.get(Hold, order.hold_id)
    services.record_no_show(session, booking.id, instrument.seller, now=AFTER)
    # Terms: 50% of ¥1,200 = ¥600, all from the ¥600 co-payment; the voucher pays nothing.
    assert booking.status is BookingStatus.NO_SHOW
    assert (order.price_fen, order.voucher_part_fen, order.co_payment_fen) == (60_000, 0, 60_000)
    assert order.refund_due_fen == 0
    session.refresh(hold)
    assert hold.status is HoldStatus.RELEASED


def test_no_show_without_a_fee_cancels_the_order(session, order_world, orders_ctx):
    w = make_instrument(order_world, no_show_fee_bps=0)
    booking, _ = _booked(session, w, hours=2)
    services.record_no_show(session, booking.id, w.seller, now=AFTER)
    assert booking.order.status is OrderStatus.CANCELLED
    assert booking.order.refund_due_fen == booking.order.co_payment_fen


def test_cancellation_follows_the_providers_terms(session, instrument):
    w = instrument
    booking, sme = _booked(session, w, hours=2)
    # 24 hours' free cancellation: 20 hours before the slot the SME can no longer cancel.
    with pytest.raises(CancellationTooLate):
        services.cancel(session, booking.id, sme, reason="计划有变", now=SLOT - timedelta(hours=20))
    services.cancel(session, booking.id, sme, reason="计划有变", now=SLOT - timedelta(hours=30))
    assert (booking.status, booking.order.status) == (
        BookingStatus.CANCELLED,
        OrderStatus.CANCELLED,
    )
    hold = session.get(Hold, booking.order.hold_id)
    assert hold.status is HoldStatus.RELEASED
    assert booking.order.refund_due_fen == booking.order.co_payment_fen


def test_the_provider_may_cancel_late_and_the_sme_pays_nothing(session, instrument):
    booking, _ = _booked(session, instrument, hours=2)
    services.cancel(
        session, booking.id, instrument.seller, reason="仪器故障", now=SLOT - timedelta(hours=2)
    )
    assert booking.order.status is OrderStatus.CANCELLED


def test_who_may_do_what(session, instrument, order_world):
    w = instrument
    sme = w.sme()
    booking = services.request_booking(session, sme, w.service.id, starts_at=SLOT, hours=1, now=NOW)
    stranger = w.sme()
    with pytest.raises(BookingNotFound):
        services.get_booking(session, booking.id, stranger)
    with pytest.raises(PermissionDenied):
        services.confirm(session, booking.id, sme, now=NOW)
    other_seller = order_world.provider_user(order_world.create_provider())
    with pytest.raises(BookingNotFound):
        services.confirm(session, booking.id, other_seller, now=NOW)
    services.decline(session, booking.id, w.seller, reason="排期冲突", now=NOW)
    with pytest.raises(IllegalBookingMove):
        services.confirm(session, booking.id, w.seller, now=NOW)


def test_each_step_queues_e_mail(session, instrument):
    w = instrument
    sme = w.sme()
    booking = services.request_booking(session, sme, w.service.id, starts_at=SLOT, hours=1, now=NOW)
    services.confirm(session, booking.id, w.seller, now=NOW)
    mails = rows(session, OutboundEmail, OutboundEmail.template == "instrument_booking")
    assert [(m.to_address, "预约" in m.subject) for m in mails] == [
        (w.seller.email, True),
        (sme.email, True),
    ]
    assert "2026-06-17 09:00" in mails[1].body


def test_an_order_cancelled_on_its_own_page_frees_the_hours(session, instrument):
    w = instrument
    booking, sme = _booked(session, w, hours=2)
    order_services.cancel(
        session, booking.order_id, sme, reason="改用其他仪器", now=SLOT - timedelta(hours=30)
    )
    session.refresh(booking)
    assert (booking.status, booking.reason) == (BookingStatus.CANCELLED, "改用其他仪器")
    again = services.request_booking(
        session, w.sme(), w.service.id, starts_at=SLOT, hours=2, now=NOW
    )
    assert again.status is BookingStatus.REQUESTED


def test_an_order_declined_on_its_own_page_declines_the_booking(session, instrument):
    w = instrument
    booking = services.request_booking(
        session, w.sme(), w.service.id, starts_at=SLOT, hours=1, now=NOW
    )
    order_services.decline(session, booking.order_id, w.seller, reason="仪器维修", now=NOW)
    session.refresh(booking)
    assert booking.status is BookingStatus.DECLINED
    events = rows(session, BookingEvent, BookingEvent.booking_id == booking.id)
    assert [(e.action, e.actor_id) for e in events] == [
        ("request", booking.requested_by_id),
        ("decline", None),
    ]
