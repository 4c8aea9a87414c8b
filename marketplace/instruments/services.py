"""Instrument booking services: the provider's calendar and closures, an SME's booking and
each step of its life. Functions take a session, flush and never commit.

A booking is paid through an ordinary order (:mod:`marketplace.orders`), never a copy of it:

* the request creates the order (``orders.services.request_service``, quantity = the hours or
  samples booked) and the booking in the same transaction;
* the provider's confirmation prices the order at quantity × the listed rate
  (``orders.services.quote``); the SME then accepts it with a voucher on the order page, which
  places the voucher hold under the usual rules (50% ceiling, annual cap), and pays the rest;
* a decline or a cancellation declines or cancels the order (hold released, co-payment
  refunded);
* after the slot the provider records the hours used: fewer than booked lowers the price
  (``orders.adjustments.lower_price``; never raised), then delivery, confirmation and the
  claim follow the order's own steps. A no-show is charged under the provider's terms (a share
  of the price, taken only from the co-payment: the voucher never pays for unused time), or
  cancels the order when the terms charge nothing.

No overlap: on PostgreSQL the exclusion constraint refuses a second holding booking of the
same hours (raised here as SlotUnavailable); on SQLite every transaction holds the write lock
from its start, so the overlap check below cannot race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.clock import beijing
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import PermissionDenied, PreconditionFailed, ValidationFailed
from marketplace.instruments import notices, rules
from marketplace.instruments.enums import BookingAction, BookingStatus, RateBasis
from marketplace.instruments.errors import (
    BookingNotFound,
    CancellationTooLate,
    InstrumentNotFound,
    SlotUnavailable,
    UsageInvalid,
)
from marketplace.instruments.models import (
    NO_OVERLAP_CONSTRAINT,
    BookingEvent,
    InstrumentBooking,
    InstrumentCalendar,
    InstrumentClosure,
)
from marketplace.orders import adjustments
from marketplace.orders import services as orders
from marketplace.orders.access import can_see
from marketplace.orders.enums import OrderAction, OrderStatus
from marketplace.orders.listeners import on_order_closed
from marketplace.orders.models import Order
from marketplace.orders.rules import BEFORE_DELIVERY
from marketplace.schemas import MAX_ID
from providers.models import InstrumentListing, Service
from providers.search import listed_services

A, S = BookingAction, BookingStatus
MAX_NOTE = 2000
MAX_SAMPLES = 1000


# --------------------------------------------------------------------------- reading


def _calendar_of(session: Session, listing_id: int) -> InstrumentCalendar | None:
    return session.scalar(
        sa.select(InstrumentCalendar).where(InstrumentCalendar.listing_id == listing_id)
    )


def bookable_calendar(session: Session, service_id: int) -> InstrumentCalendar:
    """The calendar of a listed instrument-sharing service that takes bookings.
    Raises InstrumentNotFound."""
    calendar = (
        session.scalar(
            sa.select(InstrumentCalendar)
            .join(InstrumentListing, InstrumentListing.id == InstrumentCalendar.listing_id)
            .where(
                InstrumentListing.service_id == service_id,
                InstrumentCalendar.is_bookable.is_(True),
                InstrumentListing.service_id.in_(listed_services().with_only_columns(Service.id)),
            )
        )
        if 0 < service_id <= MAX_ID
        else None
    )
    if calendar is None:
        raise InstrumentNotFound("该仪器不可在线预约 / this instrument cannot be booked online")
    return calendar


def calendar_for_service(session: Session, service_id: int) -> InstrumentCalendar | None:
    """The calendar of a listed service, if it has one that takes bookings (for pages)."""
    try:
        return bookable_calendar(session, service_id)
    except InstrumentNotFound as missing:
        missing.recovered()  # the service page simply shows no calendar
        return None


def _as_rules(calendar: InstrumentCalendar) -> rules.Calendar:
    return rules.Calendar(
        calendar.open_weekdays,
        calendar.opens_hour,
        calendar.closes_hour,
        calendar.min_hours,
        calendar.max_hours,
        calendar.lead_time_hours,
    )


def _closures(calendar: InstrumentCalendar) -> list[rules.Closure]:
    return [rules.Closure(c.starts_on, c.ends_on, c.reason) for c in calendar.closures]


def busy_periods(
    session: Session, calendar_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """``(starts_at, ends_at)`` of the holding bookings that overlap ``[start, end)``."""
    rows = session.execute(
        sa.select(InstrumentBooking.starts_at, InstrumentBooking.ends_at).where(
            InstrumentBooking.calendar_id == calendar_id,
            InstrumentBooking.status.in_(rules.HOLDING),
            InstrumentBooking.starts_at < end,
            InstrumentBooking.ends_at > start,
        )
    ).all()
    return [(s, e) for s, e in rows]


def week(
    session: Session, calendar: InstrumentCalendar, monday: date, now: datetime
) -> list[rules.Day]:
    """The week from ``monday`` with every opening hour's state (Beijing time)."""
    start = rules.at_beijing(monday, 0)
    busy = busy_periods(session, calendar.id, start, start + timedelta(days=7))
    return rules.week_availability(_as_rules(calendar), _closures(calendar), busy, monday, now)


def get_booking(session: Session, booking_id: int, user: User) -> InstrumentBooking:
    """A booking the user may see (its enterprise, its provider, the programme office).
    Raises BookingNotFound otherwise."""
    booking = session.get(InstrumentBooking, booking_id) if 0 < booking_id <= MAX_ID else None
    if booking is None or not can_see(user, booking.order):
        raise BookingNotFound(f"没有该预约 / no booking {booking_id}")
    return booking


def _lock(session: Session, booking_id: int, user: User) -> InstrumentBooking:
    get_booking(session, booking_id, user)
    booking = session.scalars(
        sa.select(InstrumentBooking)
        .where(InstrumentBooking.id == booking_id)
        .with_for_update(of=InstrumentBooking)
        .execution_options(populate_existing=True)
    ).one()
    return booking


def bookings_for(session: Session, user: User, *, limit: int = 200) -> list[InstrumentBooking]:
    """The user's organisation's bookings, latest slot first (all, for the programme office)."""
    stmt = sa.select(InstrumentBooking).order_by(
        InstrumentBooking.starts_at.desc(), InstrumentBooking.id.desc()
    )
    if user.role is Role.ENTERPRISE:
        stmt = stmt.where(InstrumentBooking.enterprise_id == user.enterprise_id)
    elif user.role is Role.PROVIDER:
        stmt = stmt.where(InstrumentBooking.provider_id == user.provider_id)
    return list(session.scalars(stmt.limit(limit)))


def provider_calendars(
    session: Session, provider_id: int
) -> list[tuple[Service, InstrumentCalendar | None]]:
    """The provider's instrument-sharing services, each with its calendar (None: not set up)."""
    rows = session.execute(
        sa.select(Service, InstrumentCalendar)
        .join(InstrumentListing, InstrumentListing.service_id == Service.id)
        .outerjoin(InstrumentCalendar, InstrumentCalendar.listing_id == InstrumentListing.id)
        .where(Service.provider_id == provider_id)
        .order_by(Service.id)
    ).all()
    return [(service, calendar) for service, calendar in rows]


# --------------------------------------------------------------------------- the calendar


@dataclass(frozen=True)
class CalendarInput:
    rate_basis: RateBasis = RateBasis.HOUR
    open_weekdays: str = "12345"
    opens_hour: int = 9
    closes_hour: int = 17
    min_hours: int = 1
    max_hours: int = 8
    lead_time_hours: int = 24
    free_cancel_hours: int = 24
    no_show_fee_bps: int = 0
    terms_note: str | None = None
    is_bookable: bool = True


def _validate_calendar(data: CalendarInput) -> CalendarInput:
    errors: dict[str, list[str]] = {}
    try:
        weekdays = rules.parse_weekdays(data.open_weekdays)
    except ValueError:
        errors["open_weekdays"] = ["1（周一）至 7（周日）的数字 / digits 1 (Monday) to 7 (Sunday)"]
        weekdays = data.open_weekdays
    if not 0 <= data.opens_hour < data.closes_hour <= 24:
        errors["closes_hour"] = [
            "开放时间须在 0–24 点之间且结束晚于开始 / 0–24, closing after opening"
        ]
    if not 1 <= data.min_hours <= data.max_hours <= 24:
        errors["max_hours"] = ["1 ≤ 最短 ≤ 最长 ≤ 24 / 1 ≤ minimum ≤ maximum ≤ 24"]
    elif data.opens_hour < data.closes_hour and data.min_hours > data.closes_hour - data.opens_hour:
        errors["min_hours"] = ["最短时长超过每日开放时长 / longer than a day's opening hours"]
    if not 0 <= data.lead_time_hours <= 24 * 60:
        errors["lead_time_hours"] = ["0–1440"]
    if not 0 <= data.free_cancel_hours <= 24 * 60:
        errors["free_cancel_hours"] = ["0–1440"]
    if not 0 <= data.no_show_fee_bps <= rules.BPS:
        errors["no_show_fee_bps"] = ["0–10000"]
    terms = (data.terms_note or "").strip() or None
    if terms is not None and len(terms) > MAX_NOTE:
        errors["terms_note"] = [f"≤ {MAX_NOTE}"]
    if errors:
        raise ValidationFailed("预约设置有误 / invalid booking settings", errors)
    return CalendarInput(
        data.rate_basis,
        weekdays,
        data.opens_hour,
        data.closes_hour,
        data.min_hours,
        data.max_hours,
        data.lead_time_hours,
        data.free_cancel_hours,
        data.no_show_fee_bps,
        terms,
        data.is_bookable,
    )


def _own_listing(session: Session, user: User, service_id: int) -> InstrumentListing:
    listing = (
        session.scalar(
            sa.select(InstrumentListing)
            .join(Service, Service.id == InstrumentListing.service_id)
            .where(Service.id == service_id, Service.provider_id == user.provider_id)
        )
        if user.role is Role.PROVIDER and 0 < service_id <= MAX_ID
        else None
    )
    if listing is None:
        raise InstrumentNotFound(f"没有该仪器 / no instrument listing for service {service_id}")
    return listing


def own_calendar(session: Session, user: User, service_id: int) -> InstrumentCalendar | None:
    """The provider user's calendar of ``service_id`` (None before it is set up).
    Raises InstrumentNotFound (not the user's instrument)."""
    return _calendar_of(session, _own_listing(session, user, service_id).id)


def set_calendar(
    session: Session, user: User, service_id: int, data: CalendarInput
) -> InstrumentCalendar:
    """The provider sets how its instrument is booked. Existing bookings keep their terms of
    time; the new terms apply to later requests. Raises InstrumentNotFound, ValidationFailed."""
    listing = _own_listing(session, user, service_id)
    clean = _validate_calendar(data)
    calendar = _calendar_of(session, listing.id)
    if calendar is None:
        calendar = InstrumentCalendar(listing_id=listing.id, provider_id=user.provider_id)
        session.add(calendar)
    else:
        calendar.version += 1
    calendar.rate_basis = clean.rate_basis
    calendar.open_weekdays = clean.open_weekdays
    calendar.opens_hour, calendar.closes_hour = clean.opens_hour, clean.closes_hour
    calendar.min_hours, calendar.max_hours = clean.min_hours, clean.max_hours
    calendar.lead_time_hours = clean.lead_time_hours
    calendar.free_cancel_hours = clean.free_cancel_hours
    calendar.no_show_fee_bps = clean.no_show_fee_bps
    calendar.terms_note = clean.terms_note
    calendar.is_bookable = clean.is_bookable
    session.flush()
    record(
        session,
        "instrument.calendar_set",
        actor_id=user.id,
        subject_type="instrument_calendar",
        subject_id=calendar.id,
        service_id=service_id,
    )
    return calendar


def add_closure(
    session: Session,
    user: User,
    service_id: int,
    *,
    starts_on: date,
    ends_on: date,
    reason: str,
) -> InstrumentClosure:
    """Close the instrument for whole days. Holding bookings on those days stay (the provider
    cancels them itself, which tells the SME). Raises InstrumentNotFound, ValidationFailed."""
    calendar = own_calendar(session, user, service_id)
    if calendar is None:
        raise InstrumentNotFound("请先设置预约规则 / set up the booking calendar first")
    text = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not 2 <= len(text) <= 200:
        errors["reason"] = ["2–200"]
    if ends_on < starts_on:
        errors["ends_on"] = ["结束日期不能早于开始日期 / the end is before the start"]
    elif (ends_on - starts_on).days > 366:
        errors["ends_on"] = ["最长一年 / at most a year"]
    if errors:
        raise ValidationFailed("停用时段有误 / invalid closure", errors)
    closure = InstrumentClosure(
        calendar_id=calendar.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=text,
        created_by_id=user.id,
    )
    session.add(closure)
    session.flush()
    session.refresh(calendar, ["closures"])
    record(
        session,
        "instrument.closure_added",
        actor_id=user.id,
        subject_type="instrument_calendar",
        subject_id=calendar.id,
        starts_on=starts_on.isoformat(),
        ends_on=ends_on.isoformat(),
        reason=text,
    )
    return closure


def remove_closure(session: Session, user: User, service_id: int, closure_id: int) -> None:
    """Raises InstrumentNotFound (not the user's instrument or closure)."""
    calendar = own_calendar(session, user, service_id)
    closure = session.get(InstrumentClosure, closure_id) if 0 < closure_id <= MAX_ID else None
    if calendar is None or closure is None or closure.calendar_id != calendar.id:
        raise InstrumentNotFound(f"没有该停用时段 / no closure {closure_id}")
    session.delete(closure)
    session.flush()
    session.refresh(calendar, ["closures"])
    record(
        session,
        "instrument.closure_removed",
        actor_id=user.id,
        subject_type="instrument_calendar",
        subject_id=calendar.id,
        closure_id=closure_id,
    )


# --------------------------------------------------------------------------- booking steps


def _note(value: str | None, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed("请说明原因 / give a reason", {field: ["必填 / required"]})
    if len(text) > MAX_NOTE:
        raise ValidationFailed("内容过长 / too long", {field: [f"≤ {MAX_NOTE}"]})
    return text


def _move(
    session: Session,
    booking: InstrumentBooking,
    action: BookingAction,
    user: User | None,
    *,
    note: str | None = None,
    now: datetime | None = None,
    **detail: Any,
) -> None:
    before, after = rules.BOOKING.move(booking, action)
    booking.version += 1
    session.add(
        BookingEvent(
            booking_id=booking.id,
            action=action.value,
            from_status=before,
            to_status=after,
            note=note,
            actor_id=user.id if user else None,
            occurred_at=now or utcnow(),
        )
    )
    session.flush()
    record(
        session,
        f"instrument_booking.{action.value}",
        actor_id=user.id if user else None,
        subject_type="instrument_booking",
        subject_id=booking.id,
        from_status=before.value,
        to_status=after.value,
        **detail,
    )


def request_booking(
    session: Session,
    user: User,
    service_id: int,
    *,
    starts_at: datetime,
    hours: int,
    samples: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> InstrumentBooking:
    """An SME asks for ``hours`` from ``starts_at`` (an aware datetime, on the hour, Beijing
    opening hours). Creates the order and the booking; the provider then confirms or declines.

    Raises InstrumentNotFound, SlotUnavailable (outside the calendar, or taken — also when a
    concurrent request took it first), ValidationFailed (samples), and the order request's
    errors (ActorNotAllowed for a non-enterprise user, EnterpriseUnverified, RelatedPartyConflict …).
    """
    now = now or utcnow()
    calendar = bookable_calendar(session, service_id)
    if starts_at.tzinfo is None:
        raise ValidationFailed("时间须带时区 / the time needs a zone", {"starts_at": ["aware"]})
    start, end = rules.check_slot(_as_rules(calendar), _closures(calendar), starts_at, hours, now)
    if calendar.rate_basis is RateBasis.SAMPLE:
        if (
            isinstance(samples, bool)
            or not isinstance(samples, int)
            or not 0 < samples <= MAX_SAMPLES
        ):
            raise ValidationFailed(
                "请填写样品数量 / give the number of samples", {"samples": [f"1–{MAX_SAMPLES}"]}
            )
        quantity = samples
    else:
        quantity = hours
    text = _note(note, "note", required=False)
    if busy_periods(session, calendar.id, start, end):
        raise SlotUnavailable(
            "该时段已被预约 / these hours are already booked",
            field="starts_at",
            extra={"reason": "taken"},
        )
    order = orders.request_service(
        session,
        user,
        service_id,
        note=f"仪器预约 {beijing(start):%Y-%m-%d %H:%M}，{hours} 小时。{text}".strip(),
        quantity=quantity,
        now=now,
    )
    booking = InstrumentBooking(
        calendar_id=calendar.id,
        provider_id=calendar.provider_id,
        enterprise_id=order.enterprise_id,
        order_id=order.id,
        starts_at=start,
        ends_at=end,
        status=rules.BOOKING.next(None, A.REQUEST),
        quantity=quantity,
        note=text,
        requested_by_id=user.id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError as clash:
        if NO_OVERLAP_CONSTRAINT not in str(clash.orig):
            raise
        raise SlotUnavailable(
            "该时段刚被他人预约 / someone has just booked these hours",
            field="starts_at",
            extra={"reason": "taken"},
        ) from None
    session.add(
        BookingEvent(
            booking_id=booking.id,
            action=A.REQUEST.value,
            from_status=None,
            to_status=booking.status,
            note=text or None,
            actor_id=user.id,
            occurred_at=now,
        )
    )
    session.flush()
    record(
        session,
        "instrument_booking.request",
        actor_id=user.id,
        subject_type="instrument_booking",
        subject_id=booking.id,
        order_id=order.id,
        starts_at=start.isoformat(),
        hours=hours,
        quantity=quantity,
    )
    notices.tell(session, booking, "requested", except_user_id=user.id)
    return booking


def _check_version(booking: InstrumentBooking, expected: int | None) -> None:
    if expected is not None and expected != booking.version:
        raise PreconditionFailed(
            "预约已被修改，请刷新后重试 / the booking changed since you read it; reload and retry",
            extra={"current_version": booking.version},
        )


def _as_provider(user: User, booking: InstrumentBooking) -> None:
    if user.role is not Role.PROVIDER or user.provider_id != booking.provider_id:
        raise PermissionDenied(
            "只有仪器所属机构可以操作 / only the instrument's provider may do this"
        )


def confirm(
    session: Session,
    booking_id: int,
    user: User,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> InstrumentBooking:
    """The provider confirms: the order is priced at quantity × the listed rate and waits for
    the SME to accept it with its voucher. Raises BookingNotFound, PermissionDenied,
    PreconditionFailed, IllegalBookingMove, and the order's quote errors."""
    booking = _lock(session, booking_id, user)
    _as_provider(user, booking)
    _check_version(booking, expected_version)
    rules.BOOKING.next(booking.status, A.CONFIRM)
    price = booking.quantity * booking.calendar.listing.hourly_rate_fen
    orders.quote(
        session,
        booking.order_id,
        user,
        price_fen=price,
        note=f"仪器预约已确认 / booking confirmed: {booking.quantity} × "
        f"{booking.calendar.listing.hourly_rate_fen} fen",
        now=now,
    )
    _move(session, booking, A.CONFIRM, user, now=now, price_fen=price)
    notices.tell(session, booking, "confirmed", except_user_id=user.id)
    return booking


def decline(
    session: Session,
    booking_id: int,
    user: User,
    *,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> InstrumentBooking:
    """The provider declines with a reason; the order is declined and the hours are free.
    Raises as :func:`confirm`, and ValidationFailed (no reason)."""
    booking = _lock(session, booking_id, user)
    _as_provider(user, booking)
    _check_version(booking, expected_version)
    rules.BOOKING.next(booking.status, A.DECLINE)
    text = _note(reason, "reason", required=True)
    # The booking moves first: the order's closing then finds nothing left to do.
    booking.reason = text
    _move(session, booking, A.DECLINE, user, note=text, now=now)
    orders.decline(session, booking.order_id, user, reason=text, now=now)
    notices.tell(session, booking, "declined", except_user_id=user.id)
    return booking


def cancel(
    session: Session,
    booking_id: int,
    user: User,
    *,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> InstrumentBooking:
    """Either party cancels before the slot; the order is cancelled with it (voucher hold
    released, co-payment refunded). The SME may cancel a confirmed booking only until the
    provider's free-cancellation deadline; the provider may always cancel (the SME pays
    nothing). Raises as :func:`decline`, and CancellationTooLate."""
    now = now or utcnow()
    booking = _lock(session, booking_id, user)
    if user.role is Role.ENTERPRISE:
        if user.enterprise_id != booking.enterprise_id:
            raise BookingNotFound(f"没有该预约 / no booking {booking_id}")
    else:
        _as_provider(user, booking)
    _check_version(booking, expected_version)
    rules.BOOKING.next(booking.status, A.CANCEL)
    text = _note(reason, "reason", required=True)
    if now >= booking.starts_at:
        raise CancellationTooLate(
            "预约时段已开始，不能取消 / the booked hours have begun; they cannot be cancelled"
        )
    calendar = booking.calendar
    if (
        user.role is Role.ENTERPRISE
        and booking.status is S.CONFIRMED
        and not rules.may_cancel_free(booking.starts_at, calendar.free_cancel_hours, now)
    ):
        raise CancellationTooLate(
            f"按服务机构的条款，须在开始前 {calendar.free_cancel_hours} 小时取消 / under the"
            f" provider's terms a booking is cancelled at least {calendar.free_cancel_hours}"
            " hours before it starts; ask the provider",
            extra={"free_cancel_hours": calendar.free_cancel_hours},
        )
    booking.reason = text
    _move(session, booking, A.CANCEL, user, note=text, now=now)
    if booking.order.status in BEFORE_DELIVERY:
        orders.cancel(session, booking.order_id, user, reason=text, now=now)
    notices.tell(session, booking, "cancelled", except_user_id=user.id)
    return booking


def record_use(
    session: Session,
    booking_id: int,
    user: User,
    *,
    used: int,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> InstrumentBooking:
    """After the slot began the provider records the hours (or samples) actually used, at
    most those booked. Fewer lowers the order's price (and with it the voucher part, within
    the 50% ceiling) and refunds the co-payment paid above it; the price is never raised.
    Raises as :func:`confirm`, UsageInvalid, and the price adjustment's errors (the order
    must be paid and not yet delivered)."""
    now = now or utcnow()
    booking = _lock(session, booking_id, user)
    _as_provider(user, booking)
    _check_version(booking, expected_version)
    rules.BOOKING.next(booking.status, A.RECORD_USE)
    if now < booking.starts_at:
        raise UsageInvalid(
            "预约时段尚未开始 / the booked hours have not begun", {"used": ["not yet"]}
        )
    if isinstance(used, bool) or not isinstance(used, int) or not 0 < used <= booking.quantity:
        raise UsageInvalid(
            "实际用量须在 1 至预约量之间；未使用请登记未到场，超出部分须与企业另行约定 / the use"
            " is 1 to the amount booked; record a no-show for none, and agree more with the SME"
            " in a new order",
            {"used": [f"1–{booking.quantity}"]},
        )
    text = _note(note, "note", required=False)
    if used < booking.quantity:
        adjustments.lower_price(
            session,
            booking.order_id,
            user,
            price_fen=used * booking.calendar.listing.hourly_rate_fen,
            reason=f"实际使用 {used}/{booking.quantity} / used {used} of {booking.quantity}",
            now=now,
        )
    booking.used_quantity = used
    _move(session, booking, A.RECORD_USE, user, note=text or None, now=now, used=used)
    notices.tell(session, booking, "used", except_user_id=user.id)
    return booking


def record_no_show(
    session: Session,
    booking_id: int,
    user: User,
    *,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> InstrumentBooking:
    """The SME did not come. Under the provider's terms the order is charged the no-show
    share of its price, from the co-payment already paid (never from the voucher, never more
    than was paid); when that is nothing the order is cancelled. Raises as
    :func:`record_use`."""
    now = now or utcnow()
    booking = _lock(session, booking_id, user)
    _as_provider(user, booking)
    _check_version(booking, expected_version)
    rules.BOOKING.next(booking.status, A.NO_SHOW)
    if now < booking.starts_at:
        raise UsageInvalid(
            "预约时段尚未开始 / the booked hours have not begun", {"used": ["not yet"]}
        )
    text = _note(note, "note", required=False)
    booking.used_quantity = 0
    order = booking.order
    fee = 0
    if order.status is OrderStatus.PAID and order.price_fen:
        fee = min(
            rules.no_show_fee(order.price_fen, booking.calendar.no_show_fee_bps),
            order.co_payment_fen or 0,
        )
    _move(session, booking, A.NO_SHOW, user, note=text or None, now=now, fee_fen=fee)
    if fee > 0:
        adjustments.lower_price(
            session,
            order.id,
            user,
            price_fen=fee,
            reason="未到场，按服务条款收费 / no-show, charged under the provider's terms",
            voucher_pays=False,
            now=now,
        )
    elif order.status in BEFORE_DELIVERY:
        orders.cancel(
            session, order.id, user, reason=text or "企业未到场 / the SME did not come", now=now
        )
    notices.tell(session, booking, "no_show", except_user_id=user.id)
    return booking


# --------------------------------------------------------------------------- the order closed


@on_order_closed
def _order_closed(session: Session, order: Order, action: OrderAction) -> None:
    """The order of a booking was declined or cancelled on the order's own page (or API): the
    booking ends with it and its hours are free again. Nothing to do when the booking moved
    first (its own decline, cancel or no-show).

    The booking pages lock the booking before the order, the order pages the order first: a
    booking locked by a booking step is skipped (that step ends the booking itself), so the
    two never wait on each other in a circle."""
    booking = session.scalars(
        sa.select(InstrumentBooking)
        .where(InstrumentBooking.order_id == order.id)
        .with_for_update(of=InstrumentBooking, skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if booking is None or booking.status not in (S.REQUESTED, S.CONFIRMED):
        return
    declined = action is OrderAction.DECLINE and booking.status is S.REQUESTED
    booking.reason = order.cancel_reason or (
        "订单已被服务机构拒绝 / the provider declined the order"
        if declined
        else "订单已取消 / the order was cancelled"
    )
    _move(session, booking, A.DECLINE if declined else A.CANCEL, None, note=booking.reason)
    notices.tell(session, booking, "declined" if declined else "cancelled", except_user_id=None)
