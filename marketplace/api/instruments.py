"""Instrument booking over JSON (tag ``instruments``): the public week calendar, an SME's
booking requests, each booking's steps, the provider's calendar and closures, and the
programme office's monthly utilisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

from marketplace.api import bp
from marketplace.api.endpoint import ANY_ROLE, api_user, endpoint, expected_version
from marketplace.clock import local_date
from marketplace.db import db_session, utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.instruments import rules, services, utilisation
from marketplace.instruments.errors import InstrumentNotFound
from marketplace.instruments.models import InstrumentBooking, InstrumentCalendar
from marketplace.instruments.schemas import (
    BookingIn,
    BookingOut,
    CalendarIn,
    CalendarOut,
    ClosureIn,
    ClosureOut,
    NoShowIn,
    ReasonIn,
    UseIn,
    UtilisationOut,
    UtilisationQuery,
    VersionIn,
    WeekOut,
    WeekQuery,
    week_view,
)
from marketplace.instruments.utilisation import Report

TAGS = ["instruments"]
SME = [Role.ENTERPRISE]
PROVIDER = [Role.PROVIDER]
PARTIES = [Role.ENTERPRISE, Role.PROVIDER]


@endpoint(
    bp,
    "/instruments/<int:service_id>/calendar",
    "GET",
    roles=None,
    query=WeekQuery,
    response=WeekOut,
    tags=TAGS,
    errors=[404],
    summary="A bookable instrument's terms and one week of its hours (Beijing time)",
)
def instrument_week(service_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Each opening hour is ``free``, ``booked``, ``closed`` (a closure day) or ``too_soon``
    (past, or within the lead time)."""
    session = db_session()
    calendar = services.bookable_calendar(session, service_id)
    now = utcnow()
    today = local_date(now)
    monday = rules.week_start(query["week"] or today)
    return week_view(calendar, monday, services.week(session, calendar, monday, now))


@endpoint(
    bp,
    "/instruments/<int:service_id>/bookings",
    "POST",
    roles=SME,
    body=BookingIn,
    response=BookingOut,
    status=201,
    tags=TAGS,
    errors=[403, 404, 409, 422],
    summary="Request a booking; the order is created with it, priced when the provider confirms",
)
def request_booking(service_id: int, body: dict[str, Any]) -> InstrumentBooking:
    """409 ``slot_unavailable`` (with ``reason``) when the calendar does not allow the hours
    or someone holds them."""
    return services.request_booking(
        db_session(),
        api_user(),
        service_id,
        starts_at=body["starts_at"],
        hours=body["hours"],
        samples=body["samples"],
        note=body["note"],
    )


@endpoint(
    bp,
    "/instruments/bookings",
    "GET",
    roles=ANY_ROLE,
    response=BookingOut,
    many=True,
    tags=TAGS,
    summary="Your organisation's bookings (all, for the programme office), latest slot first",
)
def list_bookings() -> list[InstrumentBooking]:
    return services.bookings_for(db_session(), api_user())


@endpoint(
    bp,
    "/instruments/bookings/<int:booking_id>",
    "GET",
    roles=ANY_ROLE,
    response=BookingOut,
    tags=TAGS,
    errors=[404],
    summary="One booking with its history",
)
def get_booking(booking_id: int) -> InstrumentBooking:
    return services.get_booking(db_session(), booking_id, api_user())


_STEP_ERRORS = [403, 404, 409, 412, 422]


@dataclass(frozen=True)
class _Step:
    """One step of a booking over the API: ``POST /instruments/bookings/{id}/<path>`` with
    the body's ``fields`` (and ``version``) passed to ``service``."""

    path: str
    view_name: str  # the endpoint's name (api.<view_name>), as before the steps were folded
    roles: list[Role]
    body: type[Schema]
    service: Callable[..., InstrumentBooking]
    fields: tuple[str, ...]
    summary: str


STEPS = (
    _Step(
        "confirm",
        "confirm_booking",
        PROVIDER,
        VersionIn,
        services.confirm,
        (),
        "The provider confirms: the order is priced at quantity × rate",
    ),
    _Step(
        "decline",
        "decline_booking",
        PROVIDER,
        ReasonIn,
        services.decline,
        ("reason",),
        "The provider declines with a reason; the hours are free again",
    ),
    _Step(
        "cancel",
        "cancel_booking",
        PARTIES,
        ReasonIn,
        services.cancel,
        ("reason",),
        "Cancel before the slot (the SME within the provider's free-cancellation terms)",
    ),
    _Step(
        "use",
        "record_use",
        PROVIDER,
        UseIn,
        services.record_use,
        ("used", "note"),
        "Record the hours (or samples) used: at most those booked; fewer lower the price",
    ),
    _Step(
        "no-show",
        "record_no_show",
        PROVIDER,
        NoShowIn,
        services.record_no_show,
        ("note",),
        "Record a no-show: charged under the provider's terms from the co-payment",
    ),
)


def _declare(step: _Step) -> None:
    def view(booking_id: int, body: dict[str, Any]) -> InstrumentBooking:
        return step.service(
            db_session(),
            booking_id,
            api_user(),
            **{name: body[name] for name in step.fields},
            expected_version=expected_version(body),
        )

    view.__name__ = view.__qualname__ = step.view_name
    endpoint(
        bp,
        f"/instruments/bookings/<int:booking_id>/{step.path}",
        "POST",
        roles=step.roles,
        body=step.body,
        response=BookingOut,
        tags=TAGS,
        errors=_STEP_ERRORS,
        summary=step.summary,
    )(view)


for _step in STEPS:
    _declare(_step)


# --------------------------------------------------------------------------- provider settings


def _own(service_id: int) -> InstrumentCalendar:
    calendar = services.own_calendar(db_session(), api_user(), service_id)
    if calendar is None:
        raise InstrumentNotFound("请先设置预约规则 / set up the booking calendar first")
    return calendar


@endpoint(
    bp,
    "/provider/instruments/<int:service_id>/calendar",
    "GET",
    roles=PROVIDER,
    response=CalendarOut,
    tags=TAGS,
    errors=[404],
    summary="Your instrument's booking settings and closures",
)
def get_own_calendar(service_id: int) -> InstrumentCalendar:
    return _own(service_id)


@endpoint(
    bp,
    "/provider/instruments/<int:service_id>/calendar",
    "PUT",
    roles=PROVIDER,
    body=CalendarIn,
    response=CalendarOut,
    tags=TAGS,
    errors=[404, 422],
    summary="Set how your instrument is booked (opening hours, lengths, lead time, terms)",
)
def put_own_calendar(service_id: int, body: dict[str, Any]) -> InstrumentCalendar:
    return services.set_calendar(
        db_session(), api_user(), service_id, services.CalendarInput(**body)
    )


@endpoint(
    bp,
    "/provider/instruments/<int:service_id>/closures",
    "POST",
    roles=PROVIDER,
    body=ClosureIn,
    response=ClosureOut,
    status=201,
    tags=TAGS,
    errors=[404, 422],
    summary="Close the instrument for whole days (maintenance, holidays)",
)
def add_closure(service_id: int, body: dict[str, Any]) -> Any:
    return services.add_closure(db_session(), api_user(), service_id, **body)


@endpoint(
    bp,
    "/provider/instruments/<int:service_id>/closures/<int:closure_id>",
    "DELETE",
    roles=PROVIDER,
    status=204,
    tags=TAGS,
    errors=[404],
    summary="Remove a closure",
)
def remove_closure(service_id: int, closure_id: int) -> None:
    services.remove_closure(db_session(), api_user(), service_id, closure_id)


# --------------------------------------------------------------------------- utilisation


@endpoint(
    bp,
    "/instruments/utilisation",
    "GET",
    roles=ADMIN_ROLES,
    query=UtilisationQuery,
    response=UtilisationOut,
    tags=TAGS,
    errors=[422],
    summary="Hours offered, booked and used per instrument and provider in a month, and the"
    " share used by SMEs with vouchers",
)
def instrument_utilisation(query: dict[str, Any]) -> Report:
    month = utilisation.parse_month(query["month"], local_date(utcnow()), strict=True)
    return utilisation.monthly(db_session(), month)
