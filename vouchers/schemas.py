"""Marshmallow schemas of the voucher API: separate In (strict) and Out schemas.

Amount inputs use :class:`Amount`, which passes the raw JSON value through so the service can
refuse a float, a string, zero or a negative with the domain's own ``amount_invalid`` code
(a money rule, not a JSON-shape problem).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace import masking, regions
from marketplace.enums import ServiceCategory, SizeClass
from marketplace.pagination import PageQuerySchema
from marketplace.schemas import Id, Masked, StrictSchema, ZonedDateTime
from vouchers.enums import (
    ApplicationAction,
    ApplicationSource,
    ApplicationStatus,
    BlacklistAction,
    CapScope,
    FreezeAction,
    FreezeStatus,
    FunderLevel,
    FundingBody,
    HoldStatus,
    ProgrammeKind,
    VerificationStatus,
    VoucherStatus,
)
from vouchers.models import DEFAULT_ANNUAL_CAP_FEN, DEFAULT_CEILING_BPS
from vouchers.rules import BPS, MAX_AMOUNT_FEN


class Amount(fields.Raw):
    """An amount in integer fen, validated by the service (code ``amount_invalid``)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        super().__init__(
            metadata={
                "type": "integer",
                "format": "int64",
                "minimum": 1,
                "maximum": MAX_AMOUNT_FEN,
                "description": "amount in fen (1/100 CNY), a positive whole number",
                **metadata,
            },
            **kwargs,
        )


#: Ids are BIGINT: anything larger cannot name a row (and SQLite cannot even bind it).
_ID_RANGE = validate.Range(min=1, max=2**63 - 1)


def _id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(validate=_ID_RANGE, **kwargs)


def _enum(enum_cls: Any, **kwargs: Any) -> fields.Enum:
    return fields.Enum(enum_cls, by_value=True, **kwargs)


# What the services require of text, stated as one pattern per field so the OpenAPI document
# says it too (the document carries a single pattern): trimmed of white space (Python's
# str.strip) a field must still have so many characters, and no NUL anywhere (PostgreSQL cannot
# store it). White space is spelled out because \s differs between Python and ECMA-262.
_WS = r"[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_INK = _WS.replace("[", "[^\\x00", 1)
_ANY = r"[^\x00]"


def _pattern(at_least: int) -> str:
    """Text with ``at_least`` characters once trimmed (0: anything), and no NUL."""
    if at_least == 0:
        return f"^{_ANY}*$"
    middle = "" if at_least == 1 else f"{_ANY}{{{at_least - 2},}}{_INK}"
    return f"^{_WS}*{_INK}{middle}{_ANY}*$"


class Text(fields.String):
    """A string the database can store: no NUL, no lone surrogates, at most ``maximum``
    characters and, when ``at_least`` is given, that many once trimmed."""

    def __init__(self, maximum: int = 2000, *, at_least: int = 1, **kwargs: Any) -> None:
        error = (
            f"at least {at_least} characters besides white space, no NUL / 不能为空"
            if at_least
            else "must not contain NUL characters"
        )
        super().__init__(
            validate=[
                validate.Length(min=at_least, max=maximum),
                validate.Regexp(_pattern(at_least), error=error),
            ],
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("not valid Unicode text / 含有无效字符") from None
        return text


def _categories() -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf([c.value for c in ServiceCategory])),
        required=True,
        validate=validate.Length(min=1),
    )


#: A division-code prefix under a province that exists (GB/T 2260).
_REGION_PREFIX = validate.Regexp(
    r"^(" + "|".join(regions.province_prefixes()) + r")\d{0,4}$",
    error="2–6 digits of an administrative-division code / 须为2至6位行政区划代码",
)

# --------------------------------------------------------------------------- inputs


class ProgrammeIn(StrictSchema):
    kind = _enum(ProgrammeKind, required=True)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2100))
    name = Text(200, at_least=2, required=True)
    funding_body = _enum(FundingBody, required=True)
    total_budget_fen = Amount(required=True)
    cap_scope = _enum(CapScope, load_default=CapScope.SHARED)
    group_cap = fields.Boolean(
        load_default=False,
        metadata={
            "description": "enterprises under one controller (same legal representative or "
            "bank account) share one annual cap"
        },
    )
    annual_cap_fen = Amount(
        load_default=DEFAULT_ANNUAL_CAP_FEN,
        metadata={"description": "used only when cap_scope is 'programme'"},
    )
    ceiling_bps = fields.Integer(
        strict=True,
        load_default=DEFAULT_CEILING_BPS,
        validate=validate.Range(1, BPS),
        metadata={"description": "reimbursement ceiling, basis points of the price (5000 = 50%)"},
    )
    eligible_categories = _categories()
    eligible_size_classes = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in SizeClass])),
        required=True,
        validate=validate.Length(min=1),
    )
    region_prefix = fields.String(load_default="53", validate=_REGION_PREFIX)
    applications_open_on = fields.Date(required=True)
    applications_close_on = fields.Date(required=True)
    use_by = fields.Date(required=True)
    claim_deadline = fields.Date(required=True)
    low_budget_alert_bps = fields.Integer(
        strict=True, load_default=1_000, validate=validate.Range(0, BPS)
    )
    notice_days = fields.Integer(strict=True, load_default=7, validate=validate.Range(0, 365))


class ProgrammeUpdateIn(ProgrammeIn):
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "the version you read (412 if stale)"}
    )


class ProgrammeQuery(PageQuerySchema):
    open_on = fields.Date(
        load_default=None, metadata={"description": "only programmes open for applications on"}
    )


class ApplicationIn(StrictSchema):
    programme_id = _id(required=True, strict=True)
    requested_fen = Amount(required=True)
    planned_categories = _categories()
    plan = Text(
        at_least=10,
        required=True,
        metadata={"description": "a short plan: at least 10 characters"},
    )


class ApplicationQuery(PageQuerySchema):
    status = _enum(ApplicationStatus, load_default=None)
    programme_id = _id(load_default=None)
    enterprise_id = _id(
        load_default=None, metadata={"description": "administrators: one enterprise's only"}
    )


class ApproveIn(StrictSchema):
    amount_fen = Amount(
        load_default=None, metadata={"description": "defaults to the requested amount"}
    )
    note = Text(at_least=0, load_default=None)


class ClarificationQuestionIn(StrictSchema):
    question = Text(required=True)


class ClarificationResponseIn(StrictSchema):
    response = Text(required=True)


class DecisionReasonIn(StrictSchema):
    reason = Text(required=True)


class VerificationDecisionIn(StrictSchema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf(
            [VerificationStatus.VERIFIED.value, VerificationStatus.REJECTED.value]
        ),
    )
    # The API always asks for a note (the pages ask only when verification is refused).
    note = Text(required=True)


class BlacklistIn(StrictSchema):
    reason = Text(required=True)
    source = Text(200, required=True, metadata={"description": "who listed it, e.g. a court"})
    listed_on = fields.Date(required=True, metadata={"description": "not in the future"})


class UnblacklistIn(StrictSchema):
    reason = Text(required=True)
    source = Text(200, at_least=0, load_default=None)


class EnterpriseQuery(PageQuerySchema):
    verification_status = _enum(VerificationStatus, load_default=None)
    blacklisted = fields.Boolean(load_default=None)


class EnterpriseProfileIn(StrictSchema):
    contact_name = Text(100, required=True)
    contact_phone = Text(40, at_least=5, required=True)
    contact_email = fields.Email(required=True, validate=validate.Length(max=254))
    industry = Text(100, at_least=0, load_default=None, allow_none=True)
    # Identity fields left out keep what is on record (the number is never sent back).
    registered_address = Text(300, at_least=0, allow_none=True)
    legal_rep_name = Text(100, at_least=0, allow_none=True)
    legal_rep_id_number = Text(
        30,
        at_least=0,
        allow_none=True,
        metadata={
            "description": "GB 11643 identity number, stored only as a keyed hash; omit it "
            "and send the same legal_rep_name to keep the one on record"
        },
    )
    bank_account_number = Text(60, at_least=0, allow_none=True)
    version = fields.Integer(required=True, strict=True)


class BulkRowIn(StrictSchema):
    credit_code = Text(100, required=True)
    amount_fen = Amount(required=True)
    note = Text(500, at_least=0, load_default="")


class BulkIssueIn(StrictSchema):
    rows = fields.List(
        fields.Nested(BulkRowIn), required=True, validate=validate.Length(min=1, max=2000)
    )
    filename = Text(200, load_default="api")


class VoucherQuery(PageQuerySchema):
    status = _enum(VoucherStatus, load_default=None)
    programme_id = _id(load_default=None)
    enterprise_id = _id(load_default=None)
    serial = Text(
        40, load_default=None, metadata={"description": "part of the serial (any letter case)"}
    )


class VoucherTokenIn(StrictSchema):
    """The signed token from a certificate's QR code, or the serial printed on it (exactly
    one of the two)."""

    token = Text(500)
    serial = Text(24)

    @validates_schema
    def _one_of_the_two(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if bool(data.get("token")) == bool(data.get("serial")):
            raise ValidationError(
                "给出核验码或券号之一 / give either the token or the serial", "token"
            )


# --------------------------------------------------------------------------- outputs


class ProgrammeOut(Schema):
    id = fields.Integer(required=True)
    kind = _enum(ProgrammeKind, required=True)
    year = fields.Integer(required=True)
    name = fields.String(required=True)
    funding_body = _enum(FundingBody, required=True)
    total_budget_fen = fields.Integer(required=True)
    cap_scope = _enum(CapScope, required=True)
    group_cap = fields.Boolean(required=True)
    annual_cap_fen = fields.Integer(required=True)
    ceiling_bps = fields.Integer(required=True)
    eligible_categories = fields.List(fields.String(), required=True)
    eligible_size_classes = fields.List(fields.String(), required=True)
    region_prefix = fields.String(required=True)
    applications_open_on = fields.Date(required=True)
    applications_close_on = fields.Date(required=True)
    use_by = fields.Date(required=True)
    claim_deadline = fields.Date(required=True)
    low_budget_alert_bps = fields.Integer(required=True)
    notice_days = fields.Integer(required=True)
    version = fields.Integer(required=True)


class BudgetOut(Schema):
    programme_id = fields.Function(lambda b: b.programme.id, required=True)
    programme_name = fields.Function(lambda b: b.programme.name, required=True)
    total_fen = fields.Integer(required=True)
    available_fen = fields.Integer(required=True)
    committed_fen = fields.Integer(required=True)
    spent_fen = fields.Integer(required=True)
    paid_out_fen = fields.Integer(required=True)
    vouchers = fields.Integer(required=True)
    available_bps = fields.Integer(required=True)
    low_budget_alert_bps = fields.Function(
        lambda b: b.programme.low_budget_alert_bps, required=True
    )
    low = fields.Boolean(required=True, metadata={"description": "at or below the alert level"})


class VerificationEventOut(Schema):
    from_status = _enum(VerificationStatus, required=True)
    to_status = _enum(VerificationStatus, required=True)
    note = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    created_at = ZonedDateTime(required=True)


class BlacklistEventOut(Schema):
    action = _enum(BlacklistAction, required=True)
    reason = fields.String(required=True)
    source = fields.String(allow_none=True)
    effective_on = fields.Date(required=True)
    actor_id = fields.Integer(allow_none=True)
    created_at = ZonedDateTime(required=True)


class EnterpriseOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    region_code = fields.String(required=True)
    region_name = fields.String(required=True)
    size_class = _enum(SizeClass, required=True)
    industry = fields.String(allow_none=True)
    contact_name = fields.String(required=True)
    contact_phone = Masked("phone", required=True)
    contact_email = Masked("email", required=True)
    verification_status = _enum(VerificationStatus, required=True)
    blacklisted = fields.Boolean(required=True)
    blacklist_reason = fields.String(allow_none=True)
    blacklist_source = fields.String(allow_none=True)
    blacklisted_on = fields.Date(allow_none=True)
    registered_address = fields.String(allow_none=True)
    legal_rep_name = fields.String(allow_none=True)
    legal_rep_id_masked = fields.String(allow_none=True)
    bank_account_masked = fields.Function(
        lambda e: masking.bank_account(e.bank_account_number) or None, allow_none=True
    )
    version = fields.Integer(required=True)


class EnterpriseDetailOut(EnterpriseOut):
    verification_history = fields.List(fields.Nested(VerificationEventOut), required=True)
    blacklist_history = fields.List(fields.Nested(BlacklistEventOut), required=True)


class ApplicationEventOut(Schema):
    action = _enum(ApplicationAction, required=True)
    from_status = _enum(ApplicationStatus, allow_none=True)
    to_status = _enum(ApplicationStatus, required=True)
    amount_fen = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    created_at = ZonedDateTime(required=True)


class ApplicationOut(Schema):
    id = fields.Integer(required=True)
    enterprise_id = fields.Integer(required=True)
    enterprise_name = fields.Function(lambda a: a.enterprise.name, required=True)
    programme_id = fields.Integer(required=True)
    programme_name = fields.Function(lambda a: a.programme.name, required=True)
    status = _enum(ApplicationStatus, required=True)
    source = _enum(ApplicationSource, required=True)
    requested_fen = fields.Integer(required=True)
    approved_fen = fields.Integer(allow_none=True)
    planned_categories = fields.List(fields.String(), required=True)
    plan = fields.String(required=True)
    clarification_question = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)
    created_at = ZonedDateTime(required=True)
    version = fields.Integer(required=True)
    voucher_id = fields.Function(lambda a: a.voucher.id if a.voucher else None, allow_none=True)


class ApplicationDetailOut(ApplicationOut):
    history = fields.List(fields.Nested(ApplicationEventOut), attribute="events", required=True)


class VoucherHoldOut(Schema):
    id = fields.Integer(required=True)
    order_ref = fields.String(required=True)
    status = _enum(HoldStatus, required=True)
    price_fen = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    captured_fen = fields.Integer(required=True)
    released_fen = fields.Integer(required=True)
    placed_at = ZonedDateTime(required=True)
    resolved_at = ZonedDateTime(allow_none=True)


class VoucherOut(Schema):
    id = fields.Integer(required=True)
    serial = fields.String(required=True)
    programme_id = fields.Integer(required=True)
    programme_name = fields.Function(lambda v: v.programme.name, required=True)
    programme_kind = fields.Function(lambda v: v.programme.kind.value, required=True)
    enterprise_id = fields.Integer(required=True)
    enterprise_name = fields.Function(lambda v: v.enterprise.name, required=True)
    status = _enum(VoucherStatus, required=True)
    face_value_fen = fields.Integer(required=True)
    balance_fen = fields.Integer(required=True)
    held_fen = fields.Integer(required=True)
    used_fen = fields.Integer(required=True)
    returned_fen = fields.Integer(required=True)
    ceiling_bps = fields.Function(lambda v: v.programme.ceiling_bps, required=True)
    valid_from = fields.Date(required=True)
    use_by = fields.Date(required=True)
    claim_deadline = fields.Date(required=True)
    issued_at = ZonedDateTime(required=True)
    expired_at = ZonedDateTime(allow_none=True)
    revoked_at = ZonedDateTime(allow_none=True)
    revoke_reason = fields.String(allow_none=True)


class RecoveryFlagOut(Schema):
    amount_fen = fields.Integer(required=True, metadata={"description": "redeemed, to recover"})
    reason = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    created_at = ZonedDateTime(required=True)


class VoucherDetailOut(VoucherOut):
    holds = fields.List(fields.Nested(VoucherHoldOut), required=True)
    recovery = fields.Nested(
        RecoveryFlagOut,
        allow_none=True,
        metadata={"description": "administrators only: a revoked voucher's redeemed money"},
    )
    verification_token = fields.String(
        allow_none=True,
        metadata={"description": "only for the owning enterprise: give it to a provider"},
    )


class WalletQuotaOut(Schema):
    programme_id = fields.Integer(allow_none=True)
    programme_name = fields.String(allow_none=True)
    cap_fen = fields.Integer(required=True)
    used_fen = fields.Integer(required=True)
    held_fen = fields.Integer(required=True)
    remaining_fen = fields.Integer(required=True)


class WalletOut(Schema):
    year = fields.Integer(required=True)
    cap_fen = fields.Integer(required=True)
    used_fen = fields.Integer(required=True)
    held_fen = fields.Integer(required=True)
    remaining_fen = fields.Integer(required=True)
    balance_fen = fields.Integer(required=True, metadata={"description": "on live vouchers"})
    own_caps = fields.List(fields.Nested(WalletQuotaOut), required=True)
    vouchers = fields.List(fields.Nested(VoucherOut), required=True)


class VerificationOut(Schema):
    genuine = fields.Boolean(required=True)
    serial = fields.String(required=True)
    status = _enum(VoucherStatus, required=True)
    programme_name = fields.String(required=True)
    programme_kind = _enum(ProgrammeKind, required=True)
    enterprise_name = fields.String(required=True)
    enterprise_credit_code = fields.String(required=True)
    usable = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, metadata={"description": "error code if not usable"})
    can_cover_fen = fields.Integer(
        required=True, metadata={"description": "min(balance, remaining annual cap)"}
    )
    balance_fen = fields.Integer(required=True)
    cap_remaining_fen = fields.Integer(required=True)
    ceiling_bps = fields.Integer(required=True)
    use_by = fields.Date(required=True)
    claim_deadline = fields.Date(required=True)


class BulkRowOut(Schema):
    line = fields.Integer(required=True)
    credit_code = fields.String(required=True)
    outcome = fields.String(required=True, metadata={"enum": ["issued", "refused"]})
    code = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    amount_fen = fields.Integer(allow_none=True)
    voucher_id = fields.Integer(allow_none=True)
    serial = fields.String(allow_none=True)


class BatchSummaryOut(Schema):
    id = fields.Integer(required=True)
    programme_id = fields.Integer(required=True)
    filename = fields.String(required=True)
    sha256 = fields.String(required=True)
    issued_count = fields.Integer(required=True)
    refused_count = fields.Integer(required=True)
    issued_fen = fields.Integer(required=True)
    created_at = ZonedDateTime(required=True)


class BatchOut(BatchSummaryOut):
    replayed = fields.Boolean(required=True)
    rows = fields.List(fields.Nested(BulkRowOut), attribute="report", required=True)


class LedgerCheckOut(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    checked = fields.Integer(required=True)
    ok = fields.Boolean(required=True)
    breaches = fields.List(fields.String(), required=True)


class LedgerReportOut(Schema):
    ok = fields.Boolean(required=True)
    breach_count = fields.Integer(required=True)
    checks = fields.List(fields.Nested(LedgerCheckOut), required=True)


# --------------------------------------------------------------------------- freezes


class FreezeQuery(PageQuerySchema):
    status = _enum(FreezeStatus, load_default=FreezeStatus.FROZEN)
    enterprise_id = Id(load_default=None)


class FreezeDecisionIn(StrictSchema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf([FreezeAction.RELEASE.value, FreezeAction.UNFREEZE.value]),
        metadata={
            "description": "release: the voucher money back to the programme budget; "
            "unfreeze: the order goes on"
        },
    )
    reason = Text(required=True)


class FreezeOut(Schema):
    id = fields.Integer(required=True)
    status = _enum(FreezeStatus, required=True)
    hold_id = fields.Integer(required=True)
    order_ref = fields.Function(lambda f: f.hold.order_ref, required=True)
    hold_status = fields.Function(lambda f: f.hold.status.value, required=True)
    amount_fen = fields.Function(
        lambda f: (
            f.hold.captured_fen if f.hold.status is HoldStatus.CAPTURED else f.hold.amount_fen
        ),
        required=True,
        metadata={"description": "the order's voucher money: held, or captured"},
    )
    voucher_id = fields.Integer(required=True)
    voucher_serial = fields.Function(lambda f: f.voucher.serial, required=True)
    enterprise_id = fields.Integer(required=True)
    enterprise_name = fields.Function(lambda f: f.enterprise.name, required=True)
    blacklist_event_id = fields.Integer(required=True)
    frozen_at = ZonedDateTime(required=True)
    decided_at = ZonedDateTime(allow_none=True)
    decided_by = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True)


# --------------------------------------------------------------------------- funders


class FunderBankIn(StrictSchema):
    """The account a treasury pays from: all three, or no account at all."""

    account_name = Text(200, at_least=1, required=True)
    bank_name = Text(200, at_least=1, required=True)
    account_number = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{8,32}$"),
        metadata={"description": "8–32 digits"},
    )


class FunderIn(StrictSchema):
    name = Text(200, at_least=2, required=True)
    region_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^(\d{2}|\d{4}|\d{6})$"),
        metadata={"description": "GB/T 2260 division code: 53, 5301 or 530102"},
    )
    # Absent rather than null when not given: a nullable nested object is documented as "any
    # object" by apispec, which would invite bodies the schema then refuses.
    bank_account = fields.Nested(
        FunderBankIn,
        metadata={"description": "the account the treasury pays from (absent: none on file)"},
    )


class FunderUpdateIn(FunderIn):
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "the version you read (412 if stale)"}
    )


class FunderOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    region_name = fields.Function(lambda f: regions.label(f.region_code), required=True)
    level = _enum(FunderLevel, required=True)
    bank_account_name = fields.String(allow_none=True)
    bank_name = fields.String(allow_none=True)
    bank_account_number = fields.Function(
        lambda f: masking.bank_account(f.bank_account_number) if f.bank_account_number else None,
        allow_none=True,
        metadata={"description": "masked"},
    )
    version = fields.Integer(required=True)


class ShareIn(StrictSchema):
    share_bps = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, BPS),
        metadata={"description": "basis points"},
    )
    funder_id = _id(load_default=None, strict=True)
    home_level = _enum(
        FunderLevel,
        load_default=None,
        metadata={"description": "instead of funder_id: the SME's home prefecture or county"},
    )


class SharesIn(StrictSchema):
    version = fields.Integer(
        required=True,
        strict=True,
        metadata={"description": "the programme's version you read (412 if stale)"},
    )
    shares = fields.List(
        fields.Nested(ShareIn),
        required=True,
        validate=validate.Length(1, 10),
        metadata={"description": "in order: the remainder rule breaks ties by it"},
    )


class FunderBudgetIn(StrictSchema):
    budget_fen = Amount(required=True)


class ShareOut(Schema):
    position = fields.Integer(required=True)
    share_bps = fields.Integer(required=True)
    funder_id = fields.Integer(allow_none=True)
    funder_name = fields.Function(lambda s: s.funder.name if s.funder else None, allow_none=True)
    home_level = _enum(FunderLevel, allow_none=True)


class FunderStandingOut(Schema):
    funder_id = fields.Function(lambda s: s.funder.id, required=True)
    funder_name = fields.Function(lambda s: s.funder.name, required=True)
    region_code = fields.Function(lambda s: s.funder.region_code, required=True)
    budget_fen = fields.Integer(required=True)
    available_fen = fields.Integer(required=True)
    held_fen = fields.Integer(required=True)
    spent_fen = fields.Integer(
        required=True, metadata={"description": "every captured part, paid out or not"}
    )
    paid_fen = fields.Integer(
        required=True,
        metadata={"description": "of it, what the funder's treasury's payout batches paid"},
    )


class ProgrammeFundersOut(Schema):
    programme_id = fields.Integer(required=True)
    co_funded = fields.Boolean(required=True)
    version = fields.Integer(required=True, metadata={"description": "the programme's version"})
    remainder_rule = fields.String(required=True)
    shares = fields.List(fields.Nested(ShareOut), required=True)
    funders = fields.List(fields.Nested(FunderStandingOut), required=True)


class FunderPartOut(Schema):
    funder_id = fields.Integer(required=True)
    funder_name = fields.Function(lambda p: p.funder.name, required=True)
    share_bps = fields.Integer(required=True)
    held_fen = fields.Integer(required=True)
    captured_fen = fields.Integer(required=True)
    released_fen = fields.Integer(required=True)
