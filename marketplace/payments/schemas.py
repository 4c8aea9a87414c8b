"""Payment API schemas: separate inputs (strict) and outputs; money is integer fen."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from marketplace.pagination import PageQuerySchema
from marketplace.payments.enums import (
    GatewayKind,
    PaymentDisputeStatus,
    PaymentStatus,
    RefundStatus,
    WebhookOutcome,
)
from marketplace.schemas import Fen, StrictSchema, ZonedDateTime


class PaymentQuery(PageQuerySchema):
    status = fields.Enum(PaymentStatus, by_value=True, load_default=None)
    gateway = fields.Enum(GatewayKind, by_value=True, load_default=None)
    reference = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "exact reference, or a prefix ending in ':' (e.g. 'order:')"},
    )


class PaymentRefundOut(Schema):
    id = fields.Integer(required=True)
    payment_id = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "fen"})
    status = fields.Enum(RefundStatus, by_value=True, required=True)
    gateway = fields.Enum(GatewayKind, by_value=True, required=True)
    external_id = fields.String(allow_none=True)
    reason = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    created_at = ZonedDateTime(required=True)
    completed_at = ZonedDateTime(allow_none=True)
    failure_message = fields.String(allow_none=True)


class PaymentDisputeOut(Schema):
    id = fields.Integer(required=True)
    payment_id = fields.Integer(required=True)
    gateway = fields.Enum(GatewayKind, by_value=True, required=True)
    external_id = fields.String(required=True, metadata={"description": "Stripe dispute id"})
    charge_external_id = fields.String(allow_none=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "fen"})
    status = fields.Enum(
        PaymentDisputeStatus,
        by_value=True,
        required=True,
        metadata={"description": "open and lost are withheld from what counts as received"},
    )
    gateway_status = fields.String(
        required=True, metadata={"description": "the gateway's own status word"}
    )
    reason = fields.String(allow_none=True)
    opened_at = ZonedDateTime(required=True, metadata={"description": "the gateway's clock"})
    closed_at = ZonedDateTime(allow_none=True)


class PaymentOut(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    description = fields.String(required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "fen"})
    currency = fields.String(required=True)
    gateway = fields.Enum(GatewayKind, by_value=True, required=True)
    status = fields.Enum(PaymentStatus, by_value=True, required=True)
    refunded_fen = fields.Integer(required=True)
    disputed_fen = fields.Integer(
        required=True,
        metadata={"description": "chargebacks open or lost: not counted as received"},
    )
    refundable_fen = fields.Integer(
        required=True,
        metadata={
            "description": "paid − refunded − refunds in flight − disputed_fen: what the "
            "platform holds (counted as received) and may still refund"
        },
    )
    external_id = fields.String(
        allow_none=True, metadata={"description": "Stripe PaymentIntent id or bank reference"}
    )
    remittance_code = fields.String(required=True)
    payer_id = fields.Integer(allow_none=True)
    recorded_by_id = fields.Integer(allow_none=True)
    succeeded_at = ZonedDateTime(allow_none=True)
    failure_message = fields.String(allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "send as If-Match"})
    created_at = ZonedDateTime(required=True)
    updated_at = ZonedDateTime(required=True)


class PaymentDetailOut(PaymentOut):
    refunds = fields.List(fields.Nested(PaymentRefundOut), required=True)
    disputes = fields.List(
        fields.Nested(PaymentDisputeOut),
        required=True,
        metadata={"description": "chargebacks reported by the gateway (Stripe disputes)"},
    )


class WebhookEventOut(Schema):
    id = fields.Integer(required=True)
    gateway = fields.Enum(GatewayKind, by_value=True, required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    occurred_at = ZonedDateTime(required=True, metadata={"description": "the gateway's clock"})
    received_at = ZonedDateTime(required=True)
    outcome = fields.Enum(WebhookOutcome, by_value=True, required=True)
    note = fields.String(allow_none=True)


class _VersionedIn(StrictSchema):
    version = fields.Integer(
        load_default=None,
        strict=True,
        metadata={"description": "the version you read; 412 if the payment changed since"},
    )


class OfflineReceiptIn(_VersionedIn):
    bank_reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    amount_fen = Fen(required=True, validate=validate.Range(min=1))


class PaymentRefundIn(_VersionedIn):
    amount_fen = Fen(required=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    bank_reference = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "required for bank-transfer payments: the refund transfer"},
    )


def payment_view(payment: Any, refundable_fen: int) -> dict[str, Any]:
    """The attributes PaymentOut dumps, with the computed refundable amount."""
    names = [name for name in PaymentDetailOut().fields if name != "refundable_fen"]
    return {**{name: getattr(payment, name) for name in names}, "refundable_fen": refundable_fen}
