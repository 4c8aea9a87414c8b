"""Order API schemas: strict inputs, separate outputs; money is integer fen.

What the services require of text (trimmed, not blank, at most N characters) and of invoice
numbers is stated here too, so the OpenAPI document tells clients exactly what is accepted and
a schema-valid request is refused only for reasons that depend on the order's state (409).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.enums import ServiceCategory
from marketplace.orders.core import MAX_TEXT
from marketplace.orders.disputes import MAX_MESSAGE
from marketplace.orders.enums import (
    Actor,
    DisputeStatus,
    InvoiceSource,
    OrderAction,
    OrderStatus,
    Outcome,
)
from marketplace.orders.services import MAX_QUANTITY
from marketplace.pagination import PageQuerySchema
from marketplace.schemas import Fen, Id, StrictSchema, ZonedDateTime
from vouchers.rules import MAX_AMOUNT_FEN
from vouchers.schemas import FunderPartOut

# White space as Python's str.strip sees it, spelled out: \s differs between Python and the
# ECMA-262 regular expressions of JSON Schema. Text never holds NUL (PostgreSQL refuses it),
# and the patterns say so, so the OpenAPI document describes exactly what is accepted.
_WS = r"[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_INK = "[^\\x00" + _WS[1:]
_SAYS_SOMETHING = validate.Regexp(
    f"^{_WS}*{_INK}[^\\x00]*$", error="must say something, without NUL / 不能为空"
)
_NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
_BASE64 = validate.Regexp(
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    error="standard base64 (RFC 4648 §4) with padding",
)


def _text(maximum: int = MAX_TEXT, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=maximum), _SAYS_SOMETHING], **kwargs)


def _note(**kwargs: Any) -> fields.String:
    return fields.String(
        load_default=None, validate=[validate.Length(max=MAX_TEXT), _NO_NUL], **kwargs
    )


def _amount(**kwargs: Any) -> Fen:
    return Fen(validate=validate.Range(min=1, max=MAX_AMOUNT_FEN), **kwargs)


class _VersionedIn(StrictSchema):
    version = fields.Integer(
        load_default=None,
        strict=True,
        metadata={"description": "the order version you read (or send If-Match); 412 if stale"},
    )


# --------------------------------------------------------------------------- inputs


class OrderQuery(PageQuerySchema):
    status = fields.Enum(OrderStatus, by_value=True, load_default=None)


class DisputeQuery(PageQuerySchema):
    status = fields.Enum(DisputeStatus, by_value=True, load_default=None)


class OrderCreateIn(StrictSchema):
    service_id = Id(required=True, strict=True)
    quantity = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY)
    )
    note = _note(metadata={"description": "what the enterprise needs"})


class QuoteIn(_VersionedIn):
    price_fen = _amount(
        load_default=None,
        metadata={"description": "final price; omit to accept a fixed-price service at list price"},
    )
    note = _note()


class ReasonIn(_VersionedIn):
    reason = _text(required=True)


class AcceptIn(_VersionedIn):
    voucher_id = Id(
        load_default=None,
        strict=True,
        metadata={"description": "one of your vouchers; omit to pay in full"},
    )
    requested_fen = _amount(
        load_default=None,
        metadata={
            "description": "at most this much from the voucher (default: as much as allowed)"
        },
    )
    agree = fields.Boolean(
        required=True,
        validate=validate.Equal(True),
        metadata={"description": "the enterprise accepts the service agreement (must be true)"},
    )


class InvoiceIn(StrictSchema):
    code = fields.String(
        load_default="",
        validate=validate.Regexp(r"^(\d{10}|\d{12})?$"),
        metadata={"description": "发票代码: 10 or 12 digits; empty for fully digital invoices"},
    )
    number = fields.String(
        required=True,
        validate=validate.Regexp(r"^(\d{8}|\d{20})$"),
        metadata={"description": "发票号码: 8 digits, or 20 on fully digital invoices"},
    )
    issued_on = fields.Date(required=True, metadata={"description": "between agreement and today"})
    amount_fen = _amount(required=True, metadata={"description": "must equal the order price"})
    buyer_taxpayer_id = fields.String(
        required=True,
        validate=[validate.Length(min=15, max=20), _NO_NUL],
        metadata={"description": "the enterprise's unified social credit code"},
    )
    seller_taxpayer_id = fields.String(
        required=True,
        validate=[validate.Length(min=15, max=20), _NO_NUL],
        metadata={"description": "the provider's unified social credit code"},
    )


class FileIn(StrictSchema):
    filename = fields.String(required=True, validate=[validate.Length(min=1, max=255), _NO_NUL])
    content_base64 = fields.String(
        required=True,
        validate=_BASE64,
        metadata={"description": "the file, base64; PDF, PNG or JPEG up to MAX_UPLOAD_BYTES"},
    )


class InvoiceFileIn(StrictSchema):
    filename = fields.String(required=True, validate=[validate.Length(min=1, max=255), _NO_NUL])
    content_base64 = fields.String(
        required=True,
        # Not empty: an empty file is no invoice, and the schema can say so.
        validate=[_BASE64, validate.Length(min=4)],
        metadata={"description": "the 数电发票 file, base64: XML, OFD or PDF"},
    )


class DeliverIn(_VersionedIn):
    invoice_files = fields.List(
        fields.Nested(InvoiceFileIn),
        load_default=list,
        validate=validate.Length(max=3),
        metadata={
            "description": "the invoice's files (XML or OFD, optionally its PDF): the platform "
            "reads them; required unless the invoice is a paper one (``invoice``)"
        },
    )
    # Absent rather than null when not given: a nullable nested object is documented as "any
    # object" by apispec, which would invite bodies the schema then refuses.
    invoice = fields.Nested(
        InvoiceIn,
        metadata={"description": "only for a paper-era invoice without a file: checked by hand"},
    )
    report = fields.Nested(FileIn, required=True)
    note = _note()

    @validates_schema
    def _one_invoice(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if bool(data.get("invoice_files")) == (data.get("invoice") is not None):
            raise ValidationError(
                "give the invoice's files, or for a paper invoice its details (one of the two)",
                "invoice_files",
            )


class EmptyVersionedIn(_VersionedIn):
    """Steps that need nothing but, optionally, the version read."""


class RateIn(StrictSchema):
    stars = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, validate=[validate.Length(max=2000), _NO_NUL])


class RefundRecordIn(_VersionedIn):
    bank_reference = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$"),
        metadata={"description": "bank transfers: the refund transfer's reference"},
    )


class MessageIn(StrictSchema):
    body = _text(MAX_MESSAGE, required=True)


class DocumentIn(FileIn):
    pass


class DecisionIn(_VersionedIn):
    outcome = fields.Enum(Outcome, by_value=True, required=True)
    note = _text(MAX_MESSAGE, required=True)
    refund_fen = Fen(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_AMOUNT_FEN),
        metadata={"description": "uphold_partial: co-payment refunded to the SME"},
    )
    voucher_restore_fen = Fen(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_AMOUNT_FEN),
        metadata={"description": "uphold_partial: voucher part given back to the voucher"},
    )


# --------------------------------------------------------------------------- outputs


class InvoiceItemOut(Schema):
    name = fields.String(required=True)
    quantity = fields.String(required=True)
    unit_price = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    tax_rate = fields.String(required=True)
    tax_fen = fields.Integer(allow_none=True)


class InvoiceFileOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "xml, ofd or pdf"})
    original_filename = fields.String(required=True)
    sha256 = fields.String(required=True)
    size_bytes = fields.Integer(required=True)


class InvoiceOut(Schema):
    code = fields.String(required=True)
    number = fields.String(required=True)
    issued_on = fields.Date(required=True)
    amount_fen = fields.Integer(required=True)
    buyer_taxpayer_id = fields.String(required=True)
    seller_taxpayer_id = fields.String(required=True)
    recorded_at = ZonedDateTime(required=True)
    source = fields.Enum(
        InvoiceSource,
        by_value=True,
        required=True,
        metadata={"description": "file: read from the 数电发票 file; typed: a paper invoice"},
    )
    amount_without_tax_fen = fields.Integer(allow_none=True)
    tax_fen = fields.Integer(allow_none=True)
    tax_rates = fields.String(allow_none=True)
    seller_name = fields.String(allow_none=True)
    buyer_name = fields.String(allow_none=True)
    items = fields.List(fields.Nested(InvoiceItemOut), allow_none=True)
    files = fields.List(fields.Nested(InvoiceFileOut), required=True)


class OrderEventOut(Schema):
    id = fields.Integer(required=True)
    occurred_at = ZonedDateTime(required=True)
    actor = fields.Enum(Actor, by_value=True, required=True)
    actor_id = fields.Integer(allow_none=True)
    action = fields.Enum(OrderAction, by_value=True, required=True)
    from_status = fields.Enum(OrderStatus, by_value=True, required=True)
    to_status = fields.Enum(OrderStatus, by_value=True, required=True)
    note = fields.String(allow_none=True)
    detail = fields.Dict(required=True)


class OrderOut(Schema):
    id = fields.Integer(required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    version = fields.Integer(required=True, metadata={"description": "send as If-Match"})
    enterprise_id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    service_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    request_note = fields.String(required=True)
    price_fen = fields.Integer(allow_none=True)
    quote_note = fields.String(allow_none=True)
    voucher_id = fields.Integer(allow_none=True)
    voucher_part_fen = fields.Integer(required=True)
    co_payment_fen = fields.Integer(allow_none=True)
    refund_due_fen = fields.Integer(required=True)
    price_reduction_fen = fields.Integer(required=True)
    agreement_accepted_at = ZonedDateTime(allow_none=True)
    paid_at = ZonedDateTime(allow_none=True)
    due_on = fields.Date(allow_none=True)
    delivered_at = ZonedDateTime(allow_none=True)
    delivery_note = fields.String(allow_none=True)
    report_filename = fields.String(allow_none=True)
    confirm_by = fields.Date(allow_none=True)
    confirmed_at = ZonedDateTime(allow_none=True)
    cancelled_at = ZonedDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)
    updated_at = ZonedDateTime(required=True)
    allowed_actions = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "the steps the caller may take next"},
    )


class AgreedTermsOut(Schema):
    title = fields.String(required=True)
    category = fields.Enum(ServiceCategory, by_value=True, required=True)
    description = fields.String(required=True)
    unit = fields.String(required=True)
    lead_time_days = fields.Integer(
        required=True, metadata={"description": "days from payment to the expected delivery"}
    )
    accepted_at = ZonedDateTime(required=True)


class OrderDetailOut(OrderOut):
    agreed_terms = fields.Nested(
        AgreedTermsOut,
        required=True,
        allow_none=True,
        metadata={
            "description": "the service's terms as the enterprise accepted them (null before "
            "the agreement); later edits of the service do not change them, and due_on is "
            "computed from this lead time"
        },
    )
    terms_changed_since = fields.Boolean(
        required=True,
        metadata={"description": "the provider has edited the service since the agreement"},
    )
    invoice = fields.Nested(InvoiceOut, allow_none=True)
    events = fields.List(fields.Nested(OrderEventOut), required=True)
    funder_parts = fields.List(
        fields.Nested(FunderPartOut),
        metadata={
            "description": "GET /orders/{id} only: a co-funded programme's split of the voucher "
            "part between its funders, fixed when the hold was placed (empty for a "
            "single-funder programme)"
        },
    )
    voucher_lapsed_fen = fields.Integer(
        required=True,
        metadata={
            "description": "voucher part that lapsed instead of being captured: the order was "
            "confirmed after the voucher's claim deadline (the confirming event's detail says "
            "so too); it cannot be claimed, the co-payment is unchanged"
        },
    )


class PaymentInfoOut(Schema):
    payment_id = fields.Integer(required=True)
    status = fields.String(required=True)
    gateway = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    refunded_fen = fields.Integer(required=True)
    disputed_fen = fields.Integer(
        required=True,
        metadata={"description": "card chargebacks open or lost: not counted as received (Stripe)"},
    )
    remittance_code = fields.String(required=True)
    instructions = fields.String(allow_none=True)
    client_secret = fields.String(
        allow_none=True,
        metadata={"description": "Stripe: confirm the PaymentIntent with Stripe.js"},
    )


class DisputeMessageOut(Schema):
    id = fields.Integer(required=True)
    party = fields.Enum(Actor, by_value=True, required=True)
    author_id = fields.Integer(allow_none=True)
    body = fields.String(required=True)
    created_at = ZonedDateTime(required=True)


class DisputeDocumentOut(Schema):
    id = fields.Integer(required=True)
    party = fields.Enum(Actor, by_value=True, required=True)
    original_filename = fields.String(required=True)
    content_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    uploaded_at = ZonedDateTime(required=True)


class DisputeDocumentContentOut(DisputeDocumentOut):
    content_base64 = fields.String(required=True, metadata={"description": "the file, base64"})


class DisputeOut(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    status = fields.Enum(DisputeStatus, by_value=True, required=True)
    opened_from = fields.Enum(OrderStatus, by_value=True, required=True)
    reason = fields.String(required=True)
    opened_by_id = fields.Integer(allow_none=True)
    opened_at = ZonedDateTime(required=True)
    mediator_id = fields.Integer(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    refund_fen = fields.Integer(required=True)
    voucher_restored_fen = fields.Integer(required=True)


class DisputeDetailOut(DisputeOut):
    messages = fields.List(fields.Nested(DisputeMessageOut), required=True)
    documents = fields.List(fields.Nested(DisputeDocumentOut), required=True)


class FileOut(Schema):
    filename = fields.String(required=True)
    content_base64 = fields.String(required=True)


class RatingOut(Schema):
    id = fields.Integer(required=True)
    service_id = fields.Integer(required=True)
    stars = fields.Integer(required=True)
    comment = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)


class RefundOut(Schema):
    id = fields.Integer(required=True)
    payment_id = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    status = fields.String(required=True)
    external_id = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)
