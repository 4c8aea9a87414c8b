"""Named errors of the order domain.

Rules that depend on the order's state or on other records answer 409 (``Conflict``), so a
request that is well-formed by the API's schema is refused with 422 only for its fields.
"""

from __future__ import annotations

from marketplace.errors import Conflict, DomainError, NotFound, PermissionDenied


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "No such order"


class PriceRequired(DomainError):
    code = "price_required"
    status = 422
    title = "The final price must be given"


class InvoiceMismatch(Conflict):
    """The invoice does not belong to this order: amount, buyer, seller or date differ."""

    code = "invoice_mismatch"
    title = "The invoice does not match the order"


class InvoiceReused(Conflict):
    code = "invoice_reused"
    title = "This invoice is already used on the platform"


class InvoiceFileReused(Conflict):
    """The same invoice file (by SHA-256) was uploaded before, by anyone."""

    code = "invoice_file_reused"
    title = "This invoice file was already uploaded on the platform"


class InvoiceReversed(Conflict):
    """The invoice was reversed by a red-letter invoice: it cannot pay for anything."""

    code = "invoice_reversed"
    title = "The invoice was reversed by a red-letter invoice"


class RedLetterNotAccepted(Conflict):
    """A red-letter (negative) invoice delivered as if it were the service's invoice."""

    code = "red_letter_invoice"
    title = "A red-letter invoice cannot be a delivery's invoice"


class InvoiceRequired(DomainError):
    code = "invoice_required"
    status = 422
    title = "The invoice file (or, for a paper invoice, its details) must be given"


class ReportRequired(DomainError):
    code = "report_required"
    status = 422
    title = "The service report must be uploaded"


class DisputeWindowClosed(Conflict):
    code = "dispute_window_closed"
    title = "The period for disputing this delivery is over"


class DisputeExists(Conflict):
    code = "dispute_exists"
    title = "This order was already disputed"


class DisputeNotFound(NotFound):
    code = "dispute_not_found"
    title = "No such dispute"


class DisputeClosed(Conflict):
    code = "dispute_closed"
    title = "The dispute is already decided"


class RemedyInvalid(Conflict):
    code = "remedy_invalid"
    title = "The remedy does not fit the order"


class NotYetConfirmable(Conflict):
    code = "not_yet_auto_confirmable"
    title = "The confirmation period is not over"


class RatingNotAllowed(Conflict):
    code = "rating_not_allowed"
    title = "Only a confirmed order can be rated"


class NoRefundDue(Conflict):
    code = "no_refund_due"
    title = "Nothing is owed back on this order"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "This step is not possible in the order's current state"


class ActorNotAllowed(PermissionDenied):
    code = "actor_not_allowed"
    title = "This party may not take this step"
