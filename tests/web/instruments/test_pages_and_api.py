"""Instrument booking through the pages and the JSON API (real time, both databases): the
public week calendar, a booking requested and confirmed, the provider's settings with errors
at the field, the programme office's utilisation, and the refusals (other organisations 404,
wrong roles 403, bad input as problem+json)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from marketplace.clock import CHINA_TZ, local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.instruments.enums import BookingStatus
from marketplace.instruments.models import InstrumentBooking
from marketplace.orders.enums import OrderStatus
from tests.support.instrument_fixtures import RATE_FEN, make_instrument
from tests.support.order_fixtures import OrderWorld


@pytest.fixture
def world(order_world: OrderWorld):
    # Open every day, no lead time: the tests run at the real time of day.
    return make_instrument(
        order_world, open_weekdays="1234567", opens_hour=0, closes_hour=24, lead_time_hours=0
    )


def _slot(days: int = 2, hour: int = 10):
    day = local_date(utcnow()) + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=CHINA_TZ)


def _booking(session, booking_id):
    session.expire_all()
    return session.get(InstrumentBooking, booking_id)


def test_calendar_book_confirm_through_the_pages(session, client, login, world):
    w = world
    slot = _slot()
    page = client.get(f"/instruments/{w.service.id}?week={slot.date().isoformat()}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "场发射扫描电子显微镜" in text and "开放时间" in text  # Chinese first
    assert "/book?start=" not in text  # anonymous: no booking links
    assert "Sign in as an enterprise" not in text

    service_page = client.get(f"/catalogue/services/{w.service.id}").get_data(as_text=True)
    assert f"/instruments/{w.service.id}" in service_page

    sme_user = w.sme()
    sme = login(sme_user)
    text = sme.get(f"/instruments/{w.service.id}?week={slot.date().isoformat()}").get_data(
        as_text=True
    )
    assert f"/instruments/{w.service.id}/book?start=" in text
    form = sme.get(f"/instruments/{w.service.id}/book?start={slot.isoformat()}")
    assert form.status_code == 200 and "申请预约" in form.get_data(as_text=True)
    sent = sme.post(
        f"/instruments/{w.service.id}/book",
        data={"start": slot.isoformat(), "hours": "2", "note": "测试 3 个样品"},
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    booking_id = int(sent.headers["Location"].rsplit("/", 1)[-1])
    assert "预约申请已提交" in sme.get(sent.headers["Location"]).get_data(as_text=True)
    booking = _booking(session, booking_id)
    assert (booking.status, booking.quantity, booking.starts_at) == (
        BookingStatus.REQUESTED,
        2,
        slot,
    )
    # The same hours again: refused with the reason, nothing created.
    again = sme.post(
        f"/instruments/{w.service.id}/book", data={"start": slot.isoformat(), "hours": "1"}
    )
    assert again.status_code == 409 and "已被预约" in again.get_data(as_text=True)

    seller = login(w.seller)
    detail = seller.get(f"/instruments/bookings/{booking_id}").get_data(as_text=True)
    assert "确认预约" in detail
    done = seller.post(f"/instruments/bookings/{booking_id}/confirm", data={"version": "1"})
    assert done.status_code == 302
    booking = _booking(session, booking_id)
    assert booking.status is BookingStatus.CONFIRMED
    assert (booking.order.status, booking.order.price_fen) == (OrderStatus.QUOTED, 2 * RATE_FEN)
    stale = seller.post(
        f"/instruments/bookings/{booking_id}/decline", data={"version": "1", "reason": "x"}
    )
    assert stale.status_code in (409, 412)

    listing = sme.get("/instruments/bookings").get_data(as_text=True)
    assert f"/instruments/bookings/{booking_id}" in listing
    stranger = login(w.sme())
    assert stranger.get(f"/instruments/bookings/{booking_id}").status_code == 404
    assert (
        stranger.post(
            f"/instruments/bookings/{booking_id}/cancel", data={"version": "2", "reason": "x"}
        ).status_code
        == 404
    )
    english = sme.get(f"/instruments/bookings/{booking_id}?lang=en").get_data(as_text=True)
    assert "Booking #" in english and "预约 #" not in english


def test_provider_settings_errors_at_the_field(session, login, world):
    seller = login(world.seller)
    page = seller.get(f"/instruments/manage/{world.service.id}")
    assert page.status_code == 200
    bad = seller.post(
        f"/instruments/manage/{world.service.id}",
        data={
            "rate_basis": "hour",
            "open_weekdays": "89",
            "opens_hour": "18",
            "closes_hour": "9",
            "min_hours": "1",
            "max_hours": "4",
            "lead_time_hours": "24",
            "free_cancel_hours": "24",
            "no_show_percent": "50",
            "is_bookable": "y",
        },
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="open_weekdays-err"' in text and 'id="closes_hour-err"' in text
    session.expire_all()
    assert world.calendar.opens_hour == 0  # nothing changed
    good = seller.post(
        f"/instruments/manage/{world.service.id}",
        data={
            "rate_basis": "hour",
            "open_weekdays": "1,2,3,4,5",
            "opens_hour": "8",
            "closes_hour": "18",
            "min_hours": "2",
            "max_hours": "6",
            "lead_time_hours": "12",
            "free_cancel_hours": "48",
            "no_show_percent": "30",
            "is_bookable": "y",
        },
    )
    assert good.status_code == 302
    session.expire_all()
    cal = world.calendar
    assert (cal.open_weekdays, cal.opens_hour, cal.min_hours, cal.no_show_fee_bps) == (
        "12345",
        8,
        2,
        3000,
    )
    closure = seller.post(
        f"/instruments/manage/{world.service.id}/closures",
        data={"starts_on": "2026-10-01", "ends_on": "2026-10-07", "reason": "国庆节"},
    )
    assert closure.status_code == 302
    other = login(world.orders.provider_user(world.orders.create_provider()))
    assert other.get(f"/instruments/manage/{world.service.id}").status_code == 404
    assert login(world.sme()).get(f"/instruments/manage/{world.service.id}").status_code == 403


def test_api_booking_refusals_and_utilisation(session, client, world, api_token):
    w = world
    slot = _slot()
    cal = client.get(f"/api/v1/instruments/{w.service.id}/calendar?week={slot.date().isoformat()}")
    assert cal.status_code == 200
    body = cal.get_json()
    assert body["calendar"]["rate_fen"] == RATE_FEN and len(body["days"]) == 7
    assert {h["state"] for d in body["days"] for h in d["hours"]} <= {
        "free",
        "booked",
        "closed",
        "too_soon",
    }

    sme = api_token(w.sme())
    made = client.post(
        f"/api/v1/instruments/{w.service.id}/bookings",
        json={"starts_at": slot.isoformat(), "hours": 2},
        headers=sme,
    )
    assert made.status_code == 201, made.get_json()
    booking = made.get_json()
    assert (booking["status"], booking["order_status"]) == ("requested", "requested")

    clash = client.post(
        f"/api/v1/instruments/{w.service.id}/bookings",
        json={"starts_at": (slot + timedelta(hours=1)).isoformat(), "hours": 1},
        headers=api_token(w.sme()),
    )
    assert clash.status_code == 409
    assert clash.content_type == "application/problem+json"
    assert (clash.get_json()["code"], clash.get_json()["reason"]) == ("slot_unavailable", "taken")
    naive = client.post(
        f"/api/v1/instruments/{w.service.id}/bookings",
        json={"starts_at": "2026-06-17T10:00:00", "hours": 1},
        headers=sme,
    )
    assert naive.status_code == 422

    seller = api_token(w.seller)
    assert (
        client.post(
            f"/api/v1/instruments/bookings/{booking['id']}/confirm", json={}, headers=sme
        ).status_code
        == 403
    )
    confirmed = client.post(
        f"/api/v1/instruments/bookings/{booking['id']}/confirm",
        json={"version": 1},
        headers=seller,
    )
    assert confirmed.status_code == 200
    assert confirmed.get_json()["price_fen"] == 2 * RATE_FEN
    assert (
        client.get(
            f"/api/v1/instruments/bookings/{booking['id']}", headers=api_token(w.sme())
        ).status_code
        == 404
    )

    bad_calendar = client.put(
        f"/api/v1/provider/instruments/{w.service.id}/calendar",
        json={"opens_hour": 18, "closes_hour": 9},
        headers=seller,
    )
    assert bad_calendar.status_code == 422
    assert "closes_hour" in str(bad_calendar.get_json())

    office = api_token(w.orders.staff(Role.REVIEWER))
    month = slot.strftime("%Y-%m")
    report = client.get(f"/api/v1/instruments/utilisation?month={month}", headers=office)
    assert report.status_code == 200
    mine = [r for r in report.get_json()["instruments"] if r["service_id"] == w.service.id]
    assert mine[0]["figures"]["booked_hours"] == 2
    assert (
        client.get("/api/v1/instruments/utilisation?month=2026-13", headers=office).status_code
        == 422
    )
    assert client.get("/api/v1/instruments/utilisation", headers=sme).status_code == 403
    openapi = client.get("/api/v1/openapi.json").get_json()
    assert "instruments" in {
        t for p in openapi["paths"].values() for op in p.values() for t in op.get("tags", [])
    }


def test_utilisation_page_for_the_programme_office(login, world):
    office = login(world.orders.staff(Role.REVIEWER))
    page = office.get("/instruments/utilisation?month=2026-06")
    assert page.status_code == 200 and "仪器使用情况" in page.get_data(as_text=True)
    assert login(world.sme()).get("/instruments/utilisation").status_code == 403


def test_api_provider_settings_closures_and_booking_steps(session, client, world, api_token):
    w = world
    seller = api_token(w.seller)
    url = f"/api/v1/provider/instruments/{w.service.id}"
    got = client.get(f"{url}/calendar", headers=seller)
    assert got.status_code == 200 and got.get_json()["opens_hour"] == 0
    put = client.put(
        f"{url}/calendar",
        json={"opens_hour": 0, "closes_hour": 24, "max_hours": 6, "no_show_fee_bps": 2500},
        headers=seller,
    )
    assert put.status_code == 200 and put.get_json()["no_show_fee_bps"] == 2500
    slot = _slot(days=3)
    closure = client.post(
        f"{url}/closures",
        json={
            "starts_on": slot.date().isoformat(),
            "ends_on": slot.date().isoformat(),
            "reason": "维护",
        },
        headers=seller,
    )
    assert closure.status_code == 201
    week = client.get(
        f"/api/v1/instruments/{w.service.id}/calendar?week={slot.date().isoformat()}"
    ).get_json()
    day = next(d for d in week["days"] if d["day"] == slot.date().isoformat())
    assert day["closure"] == "维护" and {h["state"] for h in day["hours"]} == {"closed"}
    assert (
        client.delete(f"{url}/closures/{closure.get_json()['id']}", headers=seller).status_code
        == 204
    )
    assert (
        client.delete(f"{url}/closures/{closure.get_json()['id']}", headers=seller).status_code
        == 404
    )
    assert client.get(f"{url}/calendar", headers=api_token(w.sme())).status_code == 403

    sme = api_token(w.sme())
    made = client.post(
        f"/api/v1/instruments/{w.service.id}/bookings",
        json={"starts_at": slot.isoformat(), "hours": 2},
        headers=sme,
    ).get_json()
    listed = client.get("/api/v1/instruments/bookings", headers=sme).get_json()
    assert [b["id"] for b in listed] == [made["id"]]
    declined = client.post(
        f"/api/v1/instruments/bookings/{made['id']}/decline",
        json={"reason": "排期冲突", "version": 1},
        headers=seller,
    )
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    second = client.post(
        f"/api/v1/instruments/bookings/{made['id']}/cancel",
        json={"reason": "x", "version": 2},
        headers=sme,
    )
    assert second.status_code == 409 and second.get_json()["code"] == "illegal_booking_transition"
    again = client.post(
        f"/api/v1/instruments/{w.service.id}/bookings",
        json={"starts_at": slot.isoformat(), "hours": 2},
        headers=sme,
    ).get_json()
    cancelled = client.post(
        f"/api/v1/instruments/bookings/{again['id']}/cancel",
        json={"reason": "计划有变"},
        headers=sme,
    )
    assert cancelled.status_code == 200 and cancelled.get_json()["order_status"] == "cancelled"
    early = client.post(
        f"/api/v1/instruments/bookings/{again['id']}/use", json={"used": 1}, headers=seller
    )
    assert early.status_code == 409
    no_show = client.post(
        f"/api/v1/instruments/bookings/{again['id']}/no-show", json={}, headers=seller
    )
    assert no_show.status_code == 409


def test_booking_steps_through_the_pages(session, login, world):
    w = world
    slot = _slot(days=3)
    sme_user = w.sme()
    sme, seller = login(sme_user), login(w.seller)
    sent = sme.post(
        f"/instruments/{w.service.id}/book", data={"start": slot.isoformat(), "hours": "1"}
    )
    booking_id = int(sent.headers["Location"].rsplit("/", 1)[-1])
    no_reason = seller.post(
        f"/instruments/bookings/{booking_id}/decline", data={"version": "1", "reason": ""}
    )
    assert no_reason.status_code == 400
    assert _booking(session, booking_id).status is BookingStatus.REQUESTED
    assert seller.post(f"/instruments/bookings/{booking_id}/nonsense", data={}).status_code == 404
    early = seller.post(
        f"/instruments/bookings/{booking_id}/record_use", data={"version": "1", "used": "1"}
    )
    assert early.status_code == 409  # not confirmed yet
    cancelled = sme.post(
        f"/instruments/bookings/{booking_id}/cancel", data={"version": "1", "reason": "计划有变"}
    )
    assert cancelled.status_code == 302
    booking = _booking(session, booking_id)
    assert (booking.status, booking.order.status) == (
        BookingStatus.CANCELLED,
        OrderStatus.CANCELLED,
    )
    again = sme.post(
        f"/instruments/{w.service.id}/book", data={"start": slot.isoformat(), "hours": "1"}
    )
    assert again.status_code == 302  # the hour is free again
    listing = seller.get("/instruments/manage").get_data(as_text=True)
    assert f"/instruments/manage/{w.service.id}" in listing
