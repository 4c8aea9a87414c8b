"""Stripe: PaymentIntents in CNY (amounts in fen), refunds, signed webhooks.

The only module that imports ``stripe``. Each gateway object carries its own
``stripe.StripeClient`` built from the settings (API key, ``STRIPE_API_BASE`` for a local
Stripe-compatible server), so nothing depends on the SDK's global state. The SDK's own
network retries are off: every POST carries *our* idempotency key, derived from our database
row, which survives a crash of this process; the SDK's random retry key would not.

Chargebacks arrive as ``charge.dispute.*`` events carrying a Dispute object: its ``amount``,
``status`` (``warning_needs_response`` … ``needs_response``, ``under_review``, ``won``,
``lost``), ``charge`` and, on API versions since 2019, ``payment_intent``. A dispute that names
only its charge is matched by reading the charge (:meth:`StripeGateway.intent_id_for_charge`).

Webhook signatures follow Stripe's scheme: the ``Stripe-Signature`` header carries
``t=<unix time>`` and one or more ``v1=<hex>`` values, each an HMAC-SHA256 with the endpoint
secret over ``"{t}.{raw body}"``. We check it ourselves (constant-time compare) so that the
clock is injectable and a timestamp too far in the past *or the future* (beyond the
tolerance, 300 s) is refused as well.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import stripe

from marketplace.payments.enums import (
    GatewayKind,
    PaymentDisputeStatus,
    PaymentStatus,
    RefundStatus,
)
from marketplace.payments.errors import (
    GatewayError,
    GatewayNotConfigured,
    GatewayUnavailable,
    InvalidWebhook,
)
from marketplace.payments.gateway import (
    GatewayDispute,
    GatewayEvent,
    GatewayIntent,
    GatewayRefund,
)

SIGNATURE_TOLERANCE_SECONDS = 300
_TIMEOUT_SECONDS = 20

#: Stripe's PaymentIntent statuses mapped onto ours.
_INTENT_STATUS = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.PROCESSING,
    "processing": PaymentStatus.PROCESSING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
}
_REFUND_STATUS = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}
#: Event type → the status it announces (the payload's own status may already be newer).
_EVENT_STATUS = {
    "payment_intent.processing": PaymentStatus.PROCESSING,
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.CANCELED,
}
_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)
#: Stripe's dispute statuses mapped onto ours; anything else (a status Stripe adds later)
#: counts as open, so money is never counted as received while in doubt.
_DISPUTE_STATUS = {
    "warning_needs_response": PaymentDisputeStatus.OPEN,
    "warning_under_review": PaymentDisputeStatus.OPEN,
    "needs_response": PaymentDisputeStatus.OPEN,
    "under_review": PaymentDisputeStatus.OPEN,
    "won": PaymentDisputeStatus.WON,
    "lost": PaymentDisputeStatus.LOST,
    "warning_closed": PaymentDisputeStatus.CLOSED,
    "prevented": PaymentDisputeStatus.CLOSED,
    "charge_refunded": PaymentDisputeStatus.CLOSED,
}
#: Every event about a dispute carries the whole Dispute object; the status inside decides.
_DISPUTE_EVENTS = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)


@functools.cache
def _http_client() -> stripe.HTTPClient:
    """One HTTP client per process: it keeps a connection pool per thread, reused by every
    gateway object instead of leaking one pool per call."""
    return stripe.RequestsClient(timeout=_TIMEOUT_SECONDS)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Read a field from an SDK object or a plain dict alike."""
    if obj is None:
        return default
    try:
        value = obj[key]
    except (KeyError, IndexError, TypeError):
        return default
    return default if value is None else value


def intent_from(obj: Any, *, status: PaymentStatus | None = None) -> GatewayIntent:
    """Our view of a PaymentIntent (SDK object or the dict inside an event)."""
    metadata = _get(obj, "metadata", {}) or {}
    error = _get(obj, "last_payment_error")
    if status is None:
        stripe_status = str(_get(obj, "status"))
        status = _INTENT_STATUS.get(stripe_status, PaymentStatus.PENDING)
        if stripe_status == "requires_payment_method" and error:
            # Stripe's way of saying "the last attempt failed; the payer may try again".
            status = PaymentStatus.FAILED
    return GatewayIntent(
        external_id=str(_get(obj, "id")),
        status=status,
        amount_fen=int(_get(obj, "amount", 0)),
        currency=str(_get(obj, "currency", "")).upper(),
        client_secret=_get(obj, "client_secret"),
        payment_id=_int_or_none(_get(metadata, "payment_id")),
        reference=_get(metadata, "reference"),
        failure_message=_get(error, "message") if error else None,
    )


def refund_from(obj: Any) -> GatewayRefund:
    metadata = _get(obj, "metadata", {}) or {}
    payment_intent = _get(obj, "payment_intent")
    return GatewayRefund(
        external_id=str(_get(obj, "id")),
        status=_REFUND_STATUS.get(str(_get(obj, "status")), RefundStatus.PENDING),
        amount_fen=int(_get(obj, "amount", 0)),
        refund_id=_int_or_none(_get(metadata, "refund_id")),
        payment_external_id=payment_intent if isinstance(payment_intent, str) else None,
        failure_message=_get(obj, "failure_reason"),
    )


def _id_of(value: Any) -> str | None:
    """An id field that may be a plain id or an expanded object."""
    if isinstance(value, str):
        return value or None
    found = _get(value, "id")
    return str(found) if found else None


def dispute_from(obj: Any) -> GatewayDispute:
    """Our view of a Stripe Dispute (SDK object or the dict inside an event)."""
    stripe_status = str(_get(obj, "status", ""))
    created = _int_or_none(_get(obj, "created"))
    return GatewayDispute(
        external_id=str(_get(obj, "id")),
        status=_DISPUTE_STATUS.get(stripe_status, PaymentDisputeStatus.OPEN),
        gateway_status=stripe_status[:40] or "unknown",
        amount_fen=int(_get(obj, "amount", 0)),
        currency=str(_get(obj, "currency", "")).upper(),
        opened_at=datetime.fromtimestamp(created, UTC) if created else None,
        payment_external_id=_id_of(_get(obj, "payment_intent")),
        charge_external_id=_id_of(_get(obj, "charge")),
        reason=(str(_get(obj, "reason"))[:100] if _get(obj, "reason") else None),
    )


def sign_payload(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value Stripe would send (used by tools and tests)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    payload: bytes, header: str | None, secret: str, *, now: float, tolerance: int
) -> None:
    """Raise InvalidWebhook unless ``header`` is Stripe's valid, fresh signature of ``payload``."""
    if not header:
        raise InvalidWebhook("缺少签名 / missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamp = _int_or_none(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhook("签名格式错误 / malformed Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWebhook("请求体不是 UTF-8 / the body is not UTF-8") from None
    expected = sign_payload(text, secret, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidWebhook("签名不匹配 / no signature matches the payload")
    if abs(now - timestamp) > tolerance:
        raise InvalidWebhook("签名时间超出容差 / signature timestamp outside the tolerance")


def _refunds_in(charge: Any) -> tuple[GatewayRefund, ...]:
    refunds = _get(charge, "refunds")
    data = _get(refunds, "data", []) if refunds else []
    return tuple(refund_from(r) for r in data)


class StripeGateway:
    """Stripe behind :class:`~marketplace.payments.gateway.PaymentGateway`."""

    kind = GatewayKind.STRIPE
    manual_confirmation = False

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str | None = None,
        webhook_secret: str | None = None,
        tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.tolerance = tolerance
        base_addresses: Any = {"api": api_base.rstrip("/")} if api_base else None
        self.client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,
            max_network_retries=0,
            http_client=_http_client(),
        )

    # -------------------------------------------------------------- payment intents

    def create_intent(
        self,
        *,
        payment_id: int,
        reference: str,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
    ) -> GatewayIntent:
        params: Any = {
            "amount": amount_fen,
            "currency": currency.lower(),
            "metadata": {"payment_id": str(payment_id), "reference": reference},
        }
        with _errors():
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        return intent_from(intent)

    def retrieve_intent(self, external_id: str) -> GatewayIntent:
        with _errors():
            return intent_from(self.client.v1.payment_intents.retrieve(external_id))

    def find_intent(self, *, payment_id: int, reference: str) -> GatewayIntent | None:
        query = f"metadata['payment_id']:'{payment_id}' AND metadata['reference']:'{reference}'"
        with _errors():
            found = self.client.v1.payment_intents.search(params={"query": query, "limit": 10})
        intents = [intent_from(i) for i in found.data]
        if not intents:
            return None
        # Should two exist (a bug elsewhere), prefer the one that holds money.
        intents.sort(key=lambda i: i.status is not PaymentStatus.SUCCEEDED)
        return intents[0]

    def cancel_intent(self, external_id: str, *, idempotency_key: str) -> GatewayIntent:
        with _errors():
            intent = self.client.v1.payment_intents.cancel(
                external_id, options={"idempotency_key": idempotency_key}
            )
        return intent_from(intent)

    # -------------------------------------------------------------- refunds

    def create_refund(
        self,
        *,
        payment_external_id: str,
        refund_id: int,
        amount_fen: int,
        idempotency_key: str,
        bank_reference: str | None = None,
    ) -> GatewayRefund:
        params: Any = {
            "payment_intent": payment_external_id,
            "amount": amount_fen,
            "metadata": {"refund_id": str(refund_id)},
        }
        with _errors():
            refund = self.client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        result = refund_from(refund)
        return GatewayRefund(
            external_id=result.external_id,
            status=result.status,
            amount_fen=result.amount_fen,
            refund_id=result.refund_id,
            payment_external_id=payment_external_id,
            failure_message=result.failure_message,
        )

    def list_refunds(self, payment_external_id: str) -> list[GatewayRefund]:
        with _errors():
            page = self.client.v1.refunds.list(
                params={"payment_intent": payment_external_id, "limit": 100}
            )
        return [refund_from(r) for r in page.data]

    # -------------------------------------------------------------- disputes

    def list_disputes(self, payment_external_id: str) -> list[GatewayDispute]:
        with _errors():
            page = self.client.v1.disputes.list(
                params={"payment_intent": payment_external_id, "limit": 100}
            )
        return [dispute_from(d) for d in page.data]

    def intent_id_for_charge(self, charge_external_id: str) -> str | None:
        try:
            with _errors():
                charge = self.client.v1.charges.retrieve(charge_external_id)
        except GatewayError as exc:
            if getattr(exc.__cause__, "http_status", None) == 404:
                exc.recovered()  # no such charge: an answer, not a failure
                return None
            raise
        return _id_of(_get(charge, "payment_intent"))

    # -------------------------------------------------------------- webhooks

    def parse_webhook(self, payload: bytes, signature: str | None, *, now: float) -> GatewayEvent:
        if not self.webhook_secret:
            raise GatewayNotConfigured("未配置 Webhook 密钥 / STRIPE_WEBHOOK_SECRET is not set")
        verify_signature(payload, signature, self.webhook_secret, now=now, tolerance=self.tolerance)
        try:
            event = json.loads(payload)
            event_id = str(event["id"])
            event_type = str(event["type"])
            created = int(event["created"])
            obj = event["data"]["object"]
        except (ValueError, KeyError, TypeError):
            raise InvalidWebhook("事件格式错误 / the event is not a Stripe event") from None
        occurred_at = datetime.fromtimestamp(created, UTC)
        base: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "raw": event,
        }
        if event_type in _EVENT_STATUS:
            return GatewayEvent(**base, intent=intent_from(obj, status=_EVENT_STATUS[event_type]))
        if event_type in _REFUND_EVENTS:
            refund = refund_from(obj)
            return GatewayEvent(
                **base, refunds=(refund,), payment_external_id=refund.payment_external_id
            )
        if event_type in _DISPUTE_EVENTS:
            dispute = dispute_from(obj)
            return GatewayEvent(
                **base, disputes=(dispute,), payment_external_id=dispute.payment_external_id
            )
        if event_type == "charge.refunded":
            payment_intent = _get(obj, "payment_intent")
            return GatewayEvent(
                **base,
                refunds=_refunds_in(obj),
                payment_external_id=payment_intent if isinstance(payment_intent, str) else None,
                amount_refunded_fen=_int_or_none(_get(obj, "amount_refunded")),
            )
        return GatewayEvent(**base)


class _errors:
    """Turn the SDK's errors into ours, with Stripe's message (never a traceback).

    Connection problems, rate limits and Stripe's own 5xx become GatewayUnavailable: the same
    request (same idempotency key) may be retried. Anything else is Stripe's definitive "no".
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        if exc is None or not isinstance(exc, stripe.StripeError):
            return
        message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
        code = getattr(exc, "code", None)
        extra = {"gateway_code": code} if code else None
        status = getattr(exc, "http_status", None) or 0
        if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or status >= 500:
            raise GatewayUnavailable(
                f"支付网关暂时不可用 / Stripe is unavailable: {message}", extra=extra
            ) from exc
        raise GatewayError(
            f"支付网关拒绝了请求 / Stripe refused the request: {message}", extra=extra
        ) from exc
