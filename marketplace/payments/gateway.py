"""The payment gateway interface, the value objects it speaks, and the one factory.

Services and views obtain a gateway from :func:`gateway_for` (or :func:`current_gateway`) and
never import ``stripe``: only :mod:`marketplace.payments.stripe_gateway` does. Two
implementations exist, chosen by ``Settings.payment_gateway`` for new payments; an existing
payment always goes back to the gateway recorded on its row.

Every method that changes something at the gateway takes an ``idempotency_key`` that the
caller derives from our own database row (:mod:`marketplace.payments.rules`), so a retry after
a crash repeats the same request instead of making a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from marketplace.config import PaymentGatewayKind, Settings, current_settings
from marketplace.payments.enums import (
    GatewayKind,
    PaymentDisputeStatus,
    PaymentStatus,
    RefundStatus,
)
from marketplace.payments.errors import GatewayNotConfigured


@dataclass(frozen=True)
class GatewayIntent:
    """What the gateway knows about a payment (a Stripe PaymentIntent, or an offline slip)."""

    external_id: str | None
    status: PaymentStatus
    amount_fen: int
    currency: str
    #: Browser-side secret to confirm the payment (Stripe); None offline.
    client_secret: str | None = None
    #: Our payment id and reference as the gateway stored them (metadata), for reconciliation.
    payment_id: int | None = None
    reference: str | None = None
    failure_message: str | None = None
    #: Offline: what the payer must write on the transfer.
    instructions: str | None = None


@dataclass(frozen=True)
class GatewayRefund:
    external_id: str
    status: RefundStatus
    amount_fen: int
    #: Our refund id as the gateway stored it (metadata); None for refunds made elsewhere.
    refund_id: int | None = None
    payment_external_id: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class GatewayDispute:
    """A chargeback as the gateway reports it (Stripe: a Dispute object)."""

    external_id: str
    status: PaymentDisputeStatus
    #: The gateway's own status word, kept for people and for the precedence among open states.
    gateway_status: str
    amount_fen: int
    currency: str
    #: When the payer's bank opened it (the gateway's clock), if stated.
    opened_at: datetime | None = None
    #: PaymentIntent id (Stripe sends it on recent API versions); None when only the charge is
    #: named, and the payment is then found through the charge.
    payment_external_id: str | None = None
    charge_external_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook event, reduced to what the payment services act on."""

    event_id: str
    event_type: str
    occurred_at: datetime
    #: The payment object's state carried by the event, when it is about a payment.
    intent: GatewayIntent | None = None
    #: Refunds carried by the event (refund events, or a charge's refund list).
    refunds: tuple[GatewayRefund, ...] = ()
    #: PaymentIntent id a refund/charge event belongs to.
    payment_external_id: str | None = None
    #: Cumulative refunded amount when the event states it (``charge.refunded``).
    amount_refunded_fen: int | None = None
    #: Chargebacks carried by the event (``charge.dispute.*``).
    disputes: tuple[GatewayDispute, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict, repr=False)


@runtime_checkable
class PaymentGateway(Protocol):
    """What a payment gateway does for us. Implementations: Stripe and offline."""

    kind: GatewayKind
    #: True when a person (finance) confirms receipts; False when the gateway reports them.
    manual_confirmation: bool

    def create_intent(
        self,
        *,
        payment_id: int,
        reference: str,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
    ) -> GatewayIntent:
        """Open the payment at the gateway (idempotent per key)."""
        ...

    def retrieve_intent(self, external_id: str) -> GatewayIntent:
        """Read the gateway's current state of a payment."""
        ...

    def find_intent(self, *, payment_id: int, reference: str) -> GatewayIntent | None:
        """Find a payment opened for our row (by the metadata we attach), if any."""
        ...

    def cancel_intent(self, external_id: str, *, idempotency_key: str) -> GatewayIntent:
        """Cancel an unpaid payment; GatewayError if it can no longer be canceled."""
        ...

    def create_refund(
        self,
        *,
        payment_external_id: str,
        refund_id: int,
        amount_fen: int,
        idempotency_key: str,
        bank_reference: str | None = None,
    ) -> GatewayRefund:
        """Refund (part of) a payment; the gateway refuses more than what remains."""
        ...

    def list_refunds(self, payment_external_id: str) -> list[GatewayRefund]:
        """Every refund the gateway holds for a payment."""
        ...

    def list_disputes(self, payment_external_id: str) -> list[GatewayDispute]:
        """Every chargeback the gateway holds for a payment (none for bank transfers)."""
        ...

    def intent_id_for_charge(self, charge_external_id: str) -> str | None:
        """The payment (PaymentIntent) id a charge belongs to, or None if the gateway has no
        such charge. For disputes that name only their charge."""
        ...

    def parse_webhook(self, payload: bytes, signature: str | None, *, now: float) -> GatewayEvent:
        """Verify a webhook's signature and timestamp; InvalidWebhook otherwise."""
        ...


def gateway_for(kind: GatewayKind | PaymentGatewayKind | str, settings: Settings) -> PaymentGateway:
    """The gateway implementation for ``kind``, configured from ``settings``.

    Raises GatewayNotConfigured when Stripe is asked for but has no secret key.
    """
    kind = GatewayKind(str(kind))
    if kind is GatewayKind.OFFLINE:
        from marketplace.payments.offline import OfflineGateway

        return OfflineGateway()
    if not settings.stripe_secret_key:
        raise GatewayNotConfigured(
            "未配置 Stripe 密钥 / STRIPE_SECRET_KEY is not set; Stripe payments are unavailable"
        )
    from marketplace.payments.stripe_gateway import StripeGateway

    return StripeGateway(
        api_key=settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        webhook_secret=settings.stripe_webhook_secret,
    )


def configured_kind(settings: Settings) -> GatewayKind:
    """The gateway new payments use (``PAYMENT_GATEWAY``)."""
    return GatewayKind(settings.payment_gateway.value)


def current_gateway(kind: GatewayKind | None = None) -> PaymentGateway:
    """The gateway for ``kind`` (default: the configured one) of the running application."""
    settings = current_settings()
    return gateway_for(kind or configured_kind(settings), settings)
