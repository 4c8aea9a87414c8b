"""marshmallow schemas of instrument booking: strict inputs, plain outputs."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from marketplace.instruments.enums import BookingStatus, RateBasis
from marketplace.instruments.services import MAX_NOTE, MAX_SAMPLES
from marketplace.schemas import Fen, Id, StrictSchema, ZonedDateTime


def _version() -> fields.Integer:
    return fields.Integer(
        load_default=None,
        strict=True,
        metadata={"description": "the booking version you read (or send If-Match); 412 if stale"},
    )


class WeekQuery(StrictSchema):
    week = fields.Date(
        load_default=None,
        metadata={"description": "any day of the week to show (Beijing); default this week"},
    )


class BookingIn(StrictSchema):
    starts_at = ZonedDateTime(
        required=True, metadata={"description": "on the hour, e.g. 2026-06-17T09:00:00+08:00"}
    )
    hours = fields.Integer(required=True, strict=True, validate=validate.Range(1, 24))
    samples = fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(1, MAX_SAMPLES),
        metadata={"description": "required when the rate is per sample"},
    )
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))


class VersionIn(StrictSchema):
    version = _version()


class ReasonIn(StrictSchema):
    version = _version()
    reason = fields.String(required=True, validate=validate.Length(1, MAX_NOTE))


class UseIn(StrictSchema):
    version = _version()
    used = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000))
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))


class NoShowIn(StrictSchema):
    version = _version()
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))


class CalendarIn(StrictSchema):
    rate_basis = fields.Enum(RateBasis, by_value=True, load_default=RateBasis.HOUR)
    open_weekdays = fields.String(
        load_default="12345",
        validate=validate.Regexp(r"^[1-7]{1,7}$"),
        metadata={"description": "ISO weekdays as digits, 1 Monday … 7 Sunday"},
    )
    opens_hour = fields.Integer(required=True, strict=True, validate=validate.Range(0, 23))
    closes_hour = fields.Integer(required=True, strict=True, validate=validate.Range(1, 24))
    min_hours = fields.Integer(load_default=1, strict=True, validate=validate.Range(1, 24))
    max_hours = fields.Integer(load_default=8, strict=True, validate=validate.Range(1, 24))
    lead_time_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(0, 1440))
    free_cancel_hours = fields.Integer(
        load_default=24, strict=True, validate=validate.Range(0, 1440)
    )
    no_show_fee_bps = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(0, 10_000)
    )
    terms_note = fields.String(load_default=None, validate=validate.Length(max=MAX_NOTE))
    is_bookable = fields.Boolean(load_default=True)


class ClosureIn(StrictSchema):
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(2, 200))


class ClosureOut(Schema):
    id = Id()
    starts_on = fields.Date()
    ends_on = fields.Date()
    reason = fields.String()


class CalendarOut(Schema):
    service_id = fields.Function(lambda c: c.listing.service_id)
    instrument_name = fields.Function(lambda c: c.listing.instrument_name)
    model = fields.Function(lambda c: c.listing.model)
    location = fields.Function(lambda c: c.listing.location)
    rate_fen = Fen(attribute="listing.hourly_rate_fen")
    rate_basis = fields.Enum(RateBasis, by_value=True)
    open_weekdays = fields.String()
    opens_hour = fields.Integer()
    closes_hour = fields.Integer()
    min_hours = fields.Integer()
    max_hours = fields.Integer()
    lead_time_hours = fields.Integer()
    free_cancel_hours = fields.Integer()
    no_show_fee_bps = fields.Integer()
    terms_note = fields.String(allow_none=True)
    is_bookable = fields.Boolean()
    version = fields.Integer()
    closures = fields.List(fields.Nested(ClosureOut))


class HourOut(Schema):
    starts_at = ZonedDateTime(metadata={"description": "Beijing time"})
    state = fields.Function(
        lambda h: h.cell.value,
        metadata={"enum": ["free", "booked", "closed", "too_soon"]},
    )


class DayOut(Schema):
    day = fields.Date()
    open = fields.Boolean()
    closure = fields.String()
    hours = fields.List(fields.Nested(HourOut))


class WeekOut(Schema):
    calendar = fields.Nested(CalendarOut)
    week_of = fields.Date()
    days = fields.List(fields.Nested(DayOut))


class BookingEventOut(Schema):
    action = fields.String()
    from_status = fields.Enum(BookingStatus, by_value=True, allow_none=True)
    to_status = fields.Enum(BookingStatus, by_value=True)
    note = fields.String(allow_none=True)
    occurred_at = ZonedDateTime()


class BookingOut(Schema):
    id = Id()
    service_id = fields.Function(lambda b: b.calendar.listing.service_id)
    instrument_name = fields.Function(lambda b: b.calendar.listing.instrument_name)
    provider_id = Id()
    enterprise_id = Id()
    order_id = Id()
    order_status = fields.Function(lambda b: b.order.status.value)
    price_fen = Fen(attribute="order.price_fen", allow_none=True)
    starts_at = ZonedDateTime()
    ends_at = ZonedDateTime()
    status = fields.Enum(BookingStatus, by_value=True)
    quantity = fields.Integer()
    used_quantity = fields.Integer(allow_none=True)
    note = fields.String()
    reason = fields.String(allow_none=True)
    version = fields.Integer()
    events = fields.List(fields.Nested(BookingEventOut))


class FiguresOut(Schema):
    offered_hours = fields.Integer()
    booked_hours = fields.Integer()
    used_hours = fields.Integer()
    voucher_used_hours = fields.Integer()
    used_share_bps = fields.Integer(allow_none=True)
    voucher_share_bps = fields.Integer(
        allow_none=True,
        metadata={"description": "used hours of SMEs paying with a voucher / used hours"},
    )


class InstrumentUseOut(Schema):
    service_id = Id()
    title = fields.String()
    instrument_name = fields.String()
    provider_id = Id()
    provider_name = fields.String()
    figures = fields.Nested(FiguresOut)


class ProviderUseOut(Schema):
    provider_id = Id()
    provider_name = fields.String()
    figures = fields.Nested(FiguresOut)


class UtilisationQuery(StrictSchema):
    month = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$"),
        metadata={"description": "YYYY-MM (Beijing calendar); default now"},
    )


class UtilisationOut(Schema):
    month = fields.Function(lambda r: r.month.strftime("%Y-%m"))
    total = fields.Nested(FiguresOut)
    providers = fields.List(fields.Nested(ProviderUseOut))
    instruments = fields.List(fields.Nested(InstrumentUseOut))


def week_view(calendar: Any, monday: Any, days: Any) -> dict[str, Any]:
    return {"calendar": calendar, "week_of": monday, "days": days}
