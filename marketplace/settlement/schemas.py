"""Settlement API schemas (claims, payout batches): strict inputs, separate outputs, fen.

Rules a JSON schema can state are stated here (a reason must contain a visible character,
references have a fixed shape), so that a request the schema accepts is refused by the
services only for reasons of state (409), never with a 422 the schema did not announce.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from marketplace.orders.schemas import InvoiceFileIn
from marketplace.pagination import PageQuerySchema
from marketplace.schemas import Id, Masked, StrictSchema, ZonedDateTime
from marketplace.settlement.claims import MAX_ORDERS_PER_CLAIM, MAX_REASON, ClaimableOrder
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    ClaimStatus,
    PayoutBatchStatus,
    PayoutLineStatus,
)
from marketplace.settlement.models import Claim, ClaimEvent, ClaimLine, PayoutBatch, PayoutLine
from marketplace.settlement.payout_files import TRANSACTION_PATTERN
from marketplace.settlement.payouts import DuePart

#: Text fields refuse NUL characters (PostgreSQL cannot store them); as a pattern, so the
#: OpenAPI document says so too. One pattern per field: the document carries only one.
_NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
_VISIBLE = validate.Regexp(
    r"^[^\x00]*[^\s\x00][^\x00]*$",
    error="must contain a visible character and no NUL characters",
)
_MAX_LINES = 500


def _ids(description: str, maximum: int = _MAX_LINES, **kwargs: Any) -> fields.List:
    return fields.List(
        Id(),
        validate=validate.Length(min=1, max=maximum),
        metadata={"description": description},
        **kwargs,
    )


class _VersionedIn(StrictSchema):
    version = fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the version you read; 412 if it changed since (or If-Match)"},
    )


# --------------------------------------------------------------------------- inputs


class ClaimCreateIn(StrictSchema):
    order_ids = _ids(
        "confirmed orders of your provider to claim", MAX_ORDERS_PER_CLAIM, required=True
    )
    note = fields.String(load_default="", validate=[validate.Length(max=MAX_REASON), _NO_NUL])


class ClaimLinesIn(_VersionedIn):
    line_ids = _ids(
        "claim lines to act on; omit for every line awaiting this step", load_default=None
    )


class ClaimApproveIn(ClaimLinesIn):
    note = fields.String(load_default=None, validate=[validate.Length(max=MAX_REASON), _NO_NUL])


class ClaimReasonIn(ClaimLinesIn):
    reason = fields.String(
        required=True, validate=[validate.Length(min=1, max=MAX_REASON), _VISIBLE]
    )


class ClaimQuery(PageQuerySchema):
    status = fields.Enum(ClaimStatus, by_value=True, load_default=None)
    provider_id = Id(load_default=None, metadata={"description": "administrators only"})


class PayoutBatchCreateIn(StrictSchema):
    claim_line_ids = _ids(
        "approved claim lines to pay; omit to take the whole queue "
        "(providers without a bank account are then skipped)",
        load_default=None,
    )
    funder_id = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=2**63 - 1),
        metadata={
            "description": "the paying treasury whose batch to build (0: programmes naming no "
            "funder, paid from their own budget); omit when one treasury pays the lines "
            "(payer_required otherwise)"
        },
    )


class PayoutBatchQuery(PageQuerySchema):
    status = fields.Enum(PayoutBatchStatus, by_value=True, load_default=None)


_TRANSACTION = validate.Regexp(
    TRANSACTION_PATTERN, error="letters, digits and . _ : / - only, at most 100 characters"
)
_VALUE_DATE = {"description": "the bank's value date"}


class PayoutPaidRowIn(StrictSchema):
    line_id = Id(required=True, metadata={"description": "payment line id"})
    bank_transaction_id = fields.String(required=True, validate=_TRANSACTION)
    date = fields.Date(required=True, metadata=_VALUE_DATE)


class PayoutFailedRowIn(StrictSchema):
    line_id = Id(required=True, metadata={"description": "payment line id"})
    bank_transaction_id = fields.String(load_default=None, validate=_TRANSACTION)
    date = fields.Date(required=True, metadata=_VALUE_DATE)
    reason = fields.String(load_default=None, validate=[validate.Length(max=300), _NO_NUL])


class PayoutConfirmationIn(StrictSchema):
    """The bank's outcome per payment line; an empty import changes nothing."""

    paid = fields.List(
        fields.Nested(PayoutPaidRowIn), load_default=list, validate=validate.Length(max=10_000)
    )
    failed = fields.List(
        fields.Nested(PayoutFailedRowIn), load_default=list, validate=validate.Length(max=10_000)
    )


class PayoutConfirmationCsvIn(StrictSchema):
    csv = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=2_000_000), _NO_NUL],
        metadata={
            "description": "the bank's confirmation file as text: "
            "line_id,reference,status,bank_transaction_id,date,reason"
        },
    )


# --------------------------------------------------------------------------- outputs


class ClaimCheckOut(Schema):
    rule = fields.String(required=True)
    passed = fields.Boolean(required=True)
    code = fields.String(required=True, metadata={"description": "error code when it fails"})
    detail = fields.String(required=True)
    flag = fields.Boolean(
        load_default=False,
        dump_default=False,
        metadata={"description": "passed, but to be checked by hand (a typed paper invoice)"},
    )


class ClaimInvoiceOut(Schema):
    code = fields.String(required=True)
    number = fields.String(required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "total with tax"})
    issued_on = fields.Date(required=True)
    source = fields.String(
        allow_none=True, metadata={"description": "file (read from the 数电发票 file) or typed"}
    )
    amount_without_tax_fen = fields.Integer(allow_none=True)
    tax_fen = fields.Integer(allow_none=True)
    tax_rates = fields.String(allow_none=True, metadata={"description": 'e.g. "6%"'})


class ClaimLineOut(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    order_status = fields.String(required=True)
    programme_id = fields.Integer(required=True)
    status = fields.Enum(ClaimLineStatus, by_value=True, required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "voucher part claimed"})
    order_price_fen = fields.Integer(required=True)
    invoice = fields.Nested(ClaimInvoiceOut, required=True)
    precheck_passed = fields.Boolean(required=True)
    checklist = fields.List(fields.Nested(ClaimCheckOut), required=True)
    checked_at = ZonedDateTime(required=True)
    submitted_on = fields.Date(required=True)
    reviewed_by_id = fields.Integer(allow_none=True)
    reviewed_at = ZonedDateTime(allow_none=True)
    review_note = fields.String(allow_none=True)
    finance_by_id = fields.Integer(allow_none=True)
    finance_at = ZonedDateTime(allow_none=True)
    finance_note = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    payout_line_id = fields.Integer(allow_none=True)


class ClaimEventOut(Schema):
    id = fields.Integer(required=True)
    line_id = fields.Integer(allow_none=True)
    action = fields.Enum(ClaimAction, by_value=True, required=True)
    from_status = fields.Enum(ClaimLineStatus, by_value=True, allow_none=True)
    to_status = fields.Enum(ClaimLineStatus, by_value=True, allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    occurred_at = ZonedDateTime(required=True)


class ClaimOut(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    provider_id = fields.Integer(required=True)
    provider_name = fields.String(required=True)
    status = fields.Enum(ClaimStatus, by_value=True, required=True)
    amount_fen = fields.Integer(required=True)
    line_count = fields.Integer(required=True)
    note = fields.String(required=True)
    submitted_by_id = fields.Integer(allow_none=True)
    submitted_at = ZonedDateTime(required=True)
    version = fields.Integer(required=True, metadata={"description": "send as If-Match"})


class ClaimDetailOut(ClaimOut):
    lines = fields.List(fields.Nested(ClaimLineOut), required=True)
    events = fields.List(fields.Nested(ClaimEventOut), required=True)


class ClaimableOrderOut(Schema):
    order_id = fields.Integer(required=True)
    enterprise_name = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    voucher_part_fen = fields.Integer(required=True)
    confirmed_at = ZonedDateTime(allow_none=True)
    claimable_on = fields.Date(required=True)
    ready = fields.Boolean(required=True, metadata={"description": "cooling-off period over"})
    precheck_passed = fields.Boolean(required=True)
    checklist = fields.List(fields.Nested(ClaimCheckOut), required=True)
    invoice = fields.Nested(ClaimInvoiceOut, required=True)


class PayoutQueueLineOut(Schema):
    """One paying treasury's part of an approved claim line (a co-funded line has one per
    funder; ``amount_fen`` is the part)."""

    claim_line_id = fields.Integer(required=True)
    claim_id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    provider_name = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    bank_account_on_file = fields.Boolean(required=True)
    funder_id = fields.Integer(
        allow_none=True, metadata={"description": "the paying treasury (null: own budget)"}
    )
    funder_name = fields.String(allow_none=True)


class PayoutLineOut(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    provider_id = fields.Integer(required=True)
    provider_name = fields.String(required=True)
    bank_account_name = fields.String(required=True)
    bank_name = fields.String(required=True)
    bank_account_number = Masked(
        "bank_account",
        required=True,
        metadata={"description": "whole for finance (to pay it), masked for everyone else"},
    )
    amount_fen = fields.Integer(required=True)
    status = fields.Enum(PayoutLineStatus, by_value=True, required=True)
    bank_transaction_id = fields.String(allow_none=True)
    value_date = fields.Date(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    confirmed_at = ZonedDateTime(allow_none=True)
    claim_line_ids = fields.List(fields.Integer(), required=True)
    order_ids = fields.List(fields.Integer(), required=True)


class PayoutBatchOut(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    status = fields.Enum(PayoutBatchStatus, by_value=True, required=True)
    total_fen = fields.Integer(required=True)
    line_count = fields.Integer(required=True)
    created_by_id = fields.Integer(allow_none=True)
    created_at = ZonedDateTime(required=True)
    sent_by_id = fields.Integer(allow_none=True)
    sent_at = ZonedDateTime(allow_none=True)
    completed_at = ZonedDateTime(allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "send as If-Match"})
    needs_second_approval = fields.Boolean(
        required=True,
        metadata={"description": "above the second-approval amount: approve before sending"},
    )
    approved_by_id = fields.Integer(allow_none=True)
    approved_at = ZonedDateTime(allow_none=True)
    funder_id = fields.Integer(
        allow_none=True,
        metadata={"description": "the paying treasury (null: programmes naming no funder)"},
    )
    payer_name = fields.String(allow_none=True)
    payer_bank_name = fields.String(allow_none=True)
    payer_account_number = fields.String(
        allow_none=True,
        metadata={
            "description": "the account the treasury pays from (an institution's, shown whole)"
        },
    )


class PayoutBatchDetailOut(PayoutBatchOut):
    lines = fields.List(fields.Nested(PayoutLineOut), required=True)


class PayoutSkippedProviderOut(Schema):
    provider_id = fields.Integer(required=True)
    name = fields.String(required=True)


class PayoutBatchCreatedOut(PayoutBatchDetailOut):
    skipped_providers = fields.List(fields.Nested(PayoutSkippedProviderOut), required=True)


class PayoutPaymentFileOut(Schema):
    filename = fields.String(required=True)
    content_type = fields.String(required=True)
    content = fields.String(required=True, metadata={"description": "the CSV, UTF-8 with BOM"})


class PayoutImportResultOut(Schema):
    applied = fields.List(fields.Integer(), required=True)
    unchanged = fields.List(fields.Integer(), required=True)
    batch = fields.Nested(PayoutBatchDetailOut, required=True)


class RedLetterIn(StrictSchema):
    invoice_files = fields.List(
        fields.Nested(InvoiceFileIn),
        required=True,
        validate=validate.Length(min=1, max=3),
        metadata={"description": "the red-letter invoice's files (XML or OFD, optionally PDF)"},
    )


class RedLetterOut(Schema):
    number = fields.String(required=True)
    reverses_number = fields.String(required=True)
    issued_on = fields.Date(required=True)
    total_fen = fields.Integer(required=True, metadata={"description": "negative"})
    tax_fen = fields.Integer(required=True)
    order_id = fields.Integer(
        allow_none=True,
        metadata={"description": "the reversed invoice's order, if on the platform"},
    )
    claim_line_id = fields.Integer(allow_none=True)
    claim_line_status = fields.String(allow_none=True)
    frozen = fields.Boolean(
        required=True,
        metadata={"description": "the reversed invoice's claim line can no longer be paid"},
    )
    recovery_fen = fields.Integer(
        required=True, metadata={"description": "voucher part flagged for recovery (already paid)"}
    )


# --------------------------------------------------------------------------- views


def _invoice(line_or_invoice: Any, prefix: str = "", invoice: Any = None) -> dict[str, Any]:
    """The invoice as claimed (a line's snapshot, ``prefix`` "invoice_") with its tax from the
    invoice record (``invoice``, or ``line_or_invoice`` itself)."""
    get = lambda name: getattr(line_or_invoice, prefix + name)  # noqa: E731
    record = invoice if invoice is not None else (None if prefix else line_or_invoice)
    return {
        "code": get("code"),
        "number": get("number"),
        "amount_fen": get("amount_fen"),
        "issued_on": get("issued_on"),
        "source": record.source.value if record is not None else None,
        "amount_without_tax_fen": getattr(record, "amount_without_tax_fen", None),
        "tax_fen": getattr(record, "tax_fen", None),
        "tax_rates": getattr(record, "tax_rates", None),
    }


def claim_line_view(line: ClaimLine) -> dict[str, Any]:
    names = [n for n in ClaimLineOut().fields if n not in {"invoice", "order_status"}]
    return {
        **{name: getattr(line, name) for name in names},
        "order_status": line.order.status.value,
        "invoice": _invoice(line, "invoice_", line.invoice),
    }


def claim_view(claim: Claim, events: list[ClaimEvent] | None = None) -> dict[str, Any]:
    names = [n for n in ClaimOut().fields if n not in {"provider_name", "line_count"}]
    view: dict[str, Any] = {
        **{name: getattr(claim, name) for name in names},
        "provider_name": claim.provider.name,
        "line_count": len(claim.lines),
    }
    if events is not None:
        view["lines"] = [claim_line_view(line) for line in claim.lines]
        view["events"] = events
    return view


def claimable_view(item: ClaimableOrder) -> dict[str, Any]:
    order = item.order
    assert order.invoice is not None
    return {
        "order_id": order.id,
        "enterprise_name": order.enterprise.name,
        "price_fen": order.price_fen,
        "voucher_part_fen": order.hold.captured_fen if order.hold else 0,
        "confirmed_at": order.confirmed_at,
        "claimable_on": item.claimable_on,
        "ready": item.ready,
        "precheck_passed": item.passed,
        "checklist": [c.as_dict() for c in item.checks],
        "invoice": _invoice(order.invoice),
    }


def queue_view(due: DuePart, bank_on_file: bool) -> dict[str, Any]:
    line = due.line
    return {
        "claim_line_id": line.id,
        "claim_id": line.claim_id,
        "order_id": line.order_id,
        "provider_id": line.provider_id,
        "provider_name": line.claim.provider.name,
        "amount_fen": due.part.amount_fen,
        "bank_account_on_file": bank_on_file,
        "funder_id": due.part.funder_id,
        "funder_name": due.funder.name if due.funder else None,
    }


def payout_line_view(line: PayoutLine) -> dict[str, Any]:
    names = [n for n in PayoutLineOut().fields if n not in {"claim_line_ids", "order_ids"}]
    return {
        **{name: getattr(line, name) for name in names},
        "claim_line_ids": [item.claim_line_id for item in line.items],
        "order_ids": [item.order_id for item in line.items],
    }


def batch_view(batch: PayoutBatch, *, detail: bool = False) -> dict[str, Any]:
    names = [n for n in PayoutBatchOut().fields]
    view: dict[str, Any] = {name: getattr(batch, name) for name in names}
    if detail:
        view["lines"] = [payout_line_view(line) for line in batch.lines]
    return view
