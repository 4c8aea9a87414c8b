"""Named errors of the payment services (each with a stable code for pages and the API)."""

from __future__ import annotations

from marketplace.errors import Conflict, DomainError, NotFound


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "No such payment"


class RefundNotFound(NotFound):
    code = "refund_not_found"
    title = "No such refund"


class InvalidPayment(DomainError):
    code = "invalid_payment"
    status = 422
    title = "The payment request is not valid"


class PaymentExists(Conflict):
    """The reference already has a live payment for a different amount."""

    code = "payment_exists"
    title = "This item already has a payment"


class PaymentStateError(Conflict):
    code = "payment_state"
    title = "Not possible in the payment's current state"


class WrongGateway(Conflict):
    code = "payment_wrong_gateway"
    title = "Not possible for this payment method"


class AmountMismatch(DomainError):
    code = "payment_amount_mismatch"
    status = 422
    title = "The amount does not match the payment"


class DuplicateBankReference(Conflict):
    code = "duplicate_bank_reference"
    title = "This bank reference was already recorded"


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"
    title = "The refund is not allowed"


class GatewayError(DomainError):
    """The gateway refused the request (a definitive answer); nothing changed on our side."""

    code = "payment_gateway_error"
    status = 502
    title = "The payment gateway refused the request"


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or failed; the same request may be retried."""

    code = "payment_gateway_unavailable"
    status = 503
    title = "The payment gateway is unavailable"


class GatewayNotConfigured(DomainError):
    code = "payment_gateway_not_configured"
    status = 503
    title = "The payment gateway is not configured"


class InvalidWebhook(DomainError):
    """Forged, stale or malformed webhook: answered 400 and never applied."""

    code = "invalid_webhook"
    status = 400
    title = "The webhook could not be verified"
