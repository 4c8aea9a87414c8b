"""Instrument booking pages. The week calendar is public and needs no JavaScript: every free
hour is a link to the booking form for that hour; the days stack on a phone.

Thin: read the form, call :mod:`marketplace.instruments.services`, flash, redirect. A booking
of another organisation answers 404 (the service looks it up for the signed-in user).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace.clock import CHINA_TZ, local_date
from marketplace.db import db_session, utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.instruments import rules, services, utilisation
from marketplace.instruments.enums import BookingAction, BookingStatus, RateBasis
from marketplace.instruments.models import InstrumentBooking, InstrumentCalendar
from marketplace.parsing import form_version
from marketplace.web.forms import show_error
from marketplace.web.instruments.forms import (
    BookForm,
    CalendarForm,
    ClosureForm,
    ReasonForm,
    RemoveForm,
    StepForm,
    UseForm,
)
from marketplace.web.permissions import roles_required
from providers.search import public_service

bp = Blueprint("instruments", __name__, url_prefix="/instruments")

ALL_ROLES = tuple(Role)


def _monday(text: str | None, today: date) -> date:
    try:
        day = date.fromisoformat(text) if text else today
    except ValueError:
        day = today
    # The calendar shows at most the booking horizon; older weeks show nothing to book.
    day = max(min(day, today + timedelta(days=rules.HORIZON_DAYS)), today - timedelta(days=7))
    return rules.week_start(day)


def _start(text: str | None) -> datetime | None:
    try:
        # A hand-typed link may carry "+08:00" unencoded, which arrives as " 08:00".
        moment = datetime.fromisoformat((text or "").strip().replace(" ", "+"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)


# --------------------------------------------------------------------------- calendar, booking


@bp.get("/<int:service_id>")
def calendar(service_id: int) -> ResponseReturnValue:
    session = db_session()
    service = public_service(session, service_id)
    cal = services.bookable_calendar(session, service.id)
    now = utcnow()
    monday = _monday(request.args.get("week"), local_date(now))
    return render_template(
        "instruments/calendar.html",
        service=service,
        calendar=cal,
        days=services.week(session, cal, monday, now),
        monday=monday,
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
        can_book=current_user.is_authenticated and current_user.role is Role.ENTERPRISE,
    )


def _hour_choices(form: BookForm, cal: InstrumentCalendar, start: datetime) -> None:
    """The lengths that fit between ``start`` and closing time."""
    form.hours.choices = [
        (h, str(h))
        for h in range(cal.min_hours, cal.max_hours + 1)
        if start.astimezone(CHINA_TZ).hour + h <= cal.closes_hour
    ] or [(cal.min_hours, str(cal.min_hours))]


def _book_page(
    service_id: int, form: BookForm, start: datetime, status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    service = public_service(session, service_id)
    cal = services.bookable_calendar(session, service.id)
    _hour_choices(form, cal, start)
    return (
        render_template(
            "instruments/book.html", service=service, calendar=cal, form=form, start=start
        ),
        status,
    )


@bp.route("/<int:service_id>/book", methods=["GET", "POST"])
@roles_required(Role.ENTERPRISE)
def book(service_id: int) -> ResponseReturnValue:
    form = BookForm()
    start = _start(form.start.data if request.method == "POST" else request.args.get("start"))
    if start is None:
        flash(_("Choose a free hour on the calendar."), "error")
        return redirect(url_for("instruments.calendar", service_id=service_id))
    if request.method == "GET":
        form.start.data = start.isoformat()
        return _book_page(service_id, form, start)
    _hour_choices(form, services.bookable_calendar(db_session(), service_id), start)
    if not form.validate_on_submit():
        return _book_page(service_id, form, start, 400)
    try:
        booking = services.request_booking(
            db_session(),
            current_user,
            service_id,
            starts_at=start,
            hours=form.hours.data,
            samples=form.samples.data,
            note=form.note.data,
        )
    except DomainError as exc:
        show_error(exc, form)
        return _book_page(service_id, form, start, exc.status)
    flash(_("Booking requested. The provider will confirm or decline it."), "success")
    return redirect(url_for("instruments.booking", booking_id=booking.id))


# --------------------------------------------------------------------------- bookings


@bp.get("/bookings")
@roles_required(*ALL_ROLES)
def bookings() -> ResponseReturnValue:
    return render_template(
        "instruments/bookings.html", bookings=services.bookings_for(db_session(), current_user)
    )


def _actions(booking: InstrumentBooking) -> list[str]:
    """The steps the signed-in user may take on the booking (buttons on the page)."""
    mine_as_provider = (
        current_user.role is Role.PROVIDER and current_user.provider_id == booking.provider_id
    )
    mine_as_sme = (
        current_user.role is Role.ENTERPRISE and current_user.enterprise_id == booking.enterprise_id
    )
    steps = []
    for action in rules.BOOKING.actions_from(booking.status):
        # Either party cancels; every other step is the provider's.
        if mine_as_provider or (mine_as_sme and action is BookingAction.CANCEL):
            steps.append(action.value)
    return steps


def _detail(booking: InstrumentBooking, status: int = 200, **forms: Any) -> ResponseReturnValue:
    version = str(booking.version)
    return (
        render_template(
            "instruments/booking.html",
            booking=booking,
            actions=_actions(booking),
            step_form=forms.get("step_form") or StepForm(version=version),
            reason_form=forms.get("reason_form") or ReasonForm(version=version),
            use_form=forms.get("use_form") or UseForm(version=version),
            started=utcnow() >= booking.starts_at,
        ),
        status,
    )


@bp.get("/bookings/<int:booking_id>")
@roles_required(*ALL_ROLES)
def booking(booking_id: int) -> ResponseReturnValue:
    return _detail(services.get_booking(db_session(), booking_id, current_user))


@bp.post("/bookings/<int:booking_id>/<step>")
@roles_required(Role.ENTERPRISE, Role.PROVIDER)
def booking_step(booking_id: int, step: str) -> ResponseReturnValue:
    session = db_session()
    found = services.get_booking(session, booking_id, current_user)
    forms: dict[str, Any] = {}
    try:
        if step in ("confirm", "no_show"):
            step_form = forms["step_form"] = StepForm()
            if not step_form.validate_on_submit():
                return _detail(found, 400, **forms)
            version = form_version(step_form.version.data)
            if step == "confirm":
                services.confirm(session, booking_id, current_user, expected_version=version)
                flash(
                    _("Booking confirmed. The order waits for the enterprise's acceptance."),
                    "success",
                )
            else:
                services.record_no_show(session, booking_id, current_user, expected_version=version)
                flash(_("No-show recorded."), "success")
        elif step in ("decline", "cancel"):
            reason_form = forms["reason_form"] = ReasonForm()
            if not reason_form.validate_on_submit():
                return _detail(found, 400, **forms)
            move = services.decline if step == "decline" else services.cancel
            move(
                session,
                booking_id,
                current_user,
                reason=reason_form.reason.data or "",
                expected_version=form_version(reason_form.version.data),
            )
            flash(
                _("Booking declined.") if step == "decline" else _("Booking cancelled."), "success"
            )
        elif step == "record_use":
            use_form = forms["use_form"] = UseForm()
            if not use_form.validate_on_submit():
                return _detail(found, 400, **forms)
            services.record_use(
                session,
                booking_id,
                current_user,
                used=use_form.used.data or 0,
                note=use_form.note.data,
                expected_version=form_version(use_form.version.data),
            )
            flash(_("Use recorded."), "success")
        else:
            abort(404)
    except DomainError as exc:
        flash(exc.message, "error")
        return _detail(services.get_booking(session, booking_id, current_user), exc.status, **forms)
    return redirect(url_for("instruments.booking", booking_id=booking_id))


# --------------------------------------------------------------------------- provider settings


@bp.get("/manage")
@roles_required(Role.PROVIDER)
def manage_list() -> ResponseReturnValue:
    return render_template(
        "instruments/manage_list.html",
        rows=services.provider_calendars(db_session(), int(current_user.provider_id)),
    )


def _form_of(cal: InstrumentCalendar | None) -> CalendarForm:
    if cal is None or request.method == "POST":
        return CalendarForm()
    return CalendarForm(
        rate_basis=cal.rate_basis.value,
        open_weekdays=cal.open_weekdays,
        opens_hour=cal.opens_hour,
        closes_hour=cal.closes_hour,
        min_hours=cal.min_hours,
        max_hours=cal.max_hours,
        lead_time_hours=cal.lead_time_hours,
        free_cancel_hours=cal.free_cancel_hours,
        no_show_percent=cal.no_show_fee_bps // 100,
        terms_note=cal.terms_note or "",
        is_bookable=cal.is_bookable,
    )


def _manage_page(
    service_id: int,
    form: CalendarForm | None = None,
    closure_form: ClosureForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db_session()
    cal = services.own_calendar(session, current_user, service_id)
    listing_rows = services.provider_calendars(session, int(current_user.provider_id))
    service = next(s for s, _c in listing_rows if s.id == service_id)
    return (
        render_template(
            "instruments/manage.html",
            service=service,
            calendar=cal,
            form=form or _form_of(cal),
            closure_form=closure_form or ClosureForm(),
            remove_form=RemoveForm(),
        ),
        status,
    )


@bp.route("/manage/<int:service_id>", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def manage(service_id: int) -> ResponseReturnValue:
    if request.method == "GET":
        return _manage_page(service_id)
    form = CalendarForm()
    if not form.validate_on_submit():
        return _manage_page(service_id, form, status=400)
    try:
        services.set_calendar(
            db_session(),
            current_user,
            service_id,
            services.CalendarInput(
                rate_basis=RateBasis(form.rate_basis.data),
                open_weekdays=form.open_weekdays.data or "",
                opens_hour=form.opens_hour.data or 0,
                closes_hour=form.closes_hour.data or 0,
                min_hours=form.min_hours.data or 0,
                max_hours=form.max_hours.data or 0,
                lead_time_hours=form.lead_time_hours.data or 0,
                free_cancel_hours=form.free_cancel_hours.data or 0,
                no_show_fee_bps=(form.no_show_percent.data or 0) * 100,
                terms_note=form.terms_note.data,
                is_bookable=bool(form.is_bookable.data),
            ),
        )
    except DomainError as exc:
        show_error(exc, form, {"no_show_fee_bps": "no_show_percent"})
        return _manage_page(service_id, form, status=exc.status)
    flash(_("Booking settings saved."), "success")
    return redirect(url_for("instruments.manage", service_id=service_id))


@bp.post("/manage/<int:service_id>/closures")
@roles_required(Role.PROVIDER)
def add_closure(service_id: int) -> ResponseReturnValue:
    form = ClosureForm()
    if not form.validate_on_submit():
        return _manage_page(service_id, closure_form=form, status=400)
    try:
        services.add_closure(
            db_session(),
            current_user,
            service_id,
            starts_on=form.starts_on.data,
            ends_on=form.ends_on.data,
            reason=form.reason.data or "",
        )
    except DomainError as exc:
        show_error(exc, form)
        return _manage_page(service_id, closure_form=form, status=exc.status)
    flash(_("Closure added."), "success")
    return redirect(url_for("instruments.manage", service_id=service_id))


@bp.post("/manage/<int:service_id>/closures/<int:closure_id>/remove")
@roles_required(Role.PROVIDER)
def remove_closure(service_id: int, closure_id: int) -> ResponseReturnValue:
    if not RemoveForm().validate_on_submit():
        abort(400)
    services.remove_closure(db_session(), current_user, service_id, closure_id)
    flash(_("Closure removed."), "success")
    return redirect(url_for("instruments.manage", service_id=service_id))


# --------------------------------------------------------------------------- utilisation


@bp.get("/utilisation")
@roles_required(*ADMIN_ROLES)
def utilisation_page() -> ResponseReturnValue:
    month = utilisation.parse_month(request.args.get("month"), local_date(utcnow()))
    report = utilisation.monthly(db_session(), month)
    return render_template("instruments/utilisation.html", report=report, month=month)


STATUS_LABELS = {s.value: s for s in BookingStatus}
