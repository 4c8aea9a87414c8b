"""Named errors of instrument booking (stable codes for pages and the API)."""

from __future__ import annotations

from marketplace.errors import Conflict, NotFound, ValidationFailed


class InstrumentNotFound(NotFound):
    code = "instrument_not_found"
    title = "No such bookable instrument"


class BookingNotFound(NotFound):
    code = "booking_not_found"
    title = "No such booking"


class SlotUnavailable(Conflict):
    """The requested time is outside the opening hours, closed, too soon, or already booked."""

    code = "slot_unavailable"
    title = "The instrument cannot be booked for this time"


class IllegalBookingMove(Conflict):
    code = "illegal_booking_transition"
    title = "This step is not possible for the booking in its current state"


class CancellationTooLate(Conflict):
    code = "cancellation_too_late"
    title = "Too late to cancel under the provider's terms"


class UsageInvalid(ValidationFailed):
    code = "usage_invalid"
    title = "The recorded use is not valid"
