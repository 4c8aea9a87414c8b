"""marshmallow schemas of the provider domain: separate input (strict) and output schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from marketplace import regions
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.enums import InstitutionType, ServiceCategory
from marketplace.pagination import PageQuerySchema
from marketplace.schemas import MAX_ID, Fen, Id, Masked, StrictSchema, ZonedDateTime
from providers.catalogue import MAX_LEAD_TIME_DAYS, MAX_PRICE_FEN
from providers.enums import (
    AccreditationLevel,
    AssessorKind,
    BankChangeStatus,
    CreditEventKind,
    DocumentKind,
    ObjectionStatus,
    ParticipationStatus,
    PricingMode,
    ProviderAction,
    ProviderStatus,
    QualificationKind,
    RelationKind,
    ReviewStatus,
)
from providers.personal_data import MIN_REASON, REVEALABLE
from providers.rules import (
    BANK_ACCOUNT_INPUT,
    EMAIL_INPUT,
    MAX_REASON_LENGTH,
    PERIOD_INPUT,
    QUALIFICATION_INPUTS,
    SOLID,
    WEBSITE_INPUT,
    WS,
)
from providers.search import REGION_INPUT, SortOrder

# --------------------------------------------------------------------------- outputs


class Extended:
    """An object seen through a schema with a few extra attributes (history, missing …)."""

    def __init__(self, obj: Any, **extra: Any) -> None:
        self._obj = obj
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)


def _region_name(code: str) -> str | None:
    try:
        return parse_credit_code(code).region_name
    except CreditCodeError:
        return None


class QualificationOut(Schema):
    kind = fields.Enum(QualificationKind, by_value=True, required=True)
    number = fields.String(required=True)
    valid_until = fields.Date(allow_none=True)
    scope = fields.String(allow_none=True, metadata={"description": "what it covers"})


class QualificationChangeOut(Schema):
    """A qualification number an admitted provider asked for, decided by a reviewer."""

    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    kind = fields.Enum(QualificationKind, by_value=True, required=True)
    number = fields.String(required=True)
    valid_until = fields.Date(allow_none=True)
    scope = fields.String(allow_none=True)
    status = fields.Enum(ReviewStatus, by_value=True, required=True)
    requested_by_id = fields.Integer(allow_none=True)
    requested_at = ZonedDateTime(required=True)
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class QualificationSetOut(QualificationOut):
    """The number sent, normalised, and whether it is in force or awaits a reviewer."""

    in_force = fields.Boolean(
        required=True,
        metadata={
            "description": "true: the number is the live one now (before admission); false: "
            "it awaits a reviewer (after admission) and the number accepted before stays live"
        },
    )
    change = fields.Nested(
        QualificationChangeOut,
        allow_none=True,
        metadata={"description": "the request awaiting a reviewer, when in_force is false"},
    )


class ParticipationOut(Schema):
    programme_id = fields.Integer(required=True)
    programme_name = fields.Function(lambda p: p.programme.name, required=True)
    status = fields.Enum(ParticipationStatus, by_value=True, required=True)
    reason = fields.String(allow_none=True)


class CreditOut(Schema):
    score = fields.Integer(required=True, metadata={"description": "0–100, see providers.credit"})
    band = fields.String(required=True, metadata={"description": "A ≥ 90, B ≥ 75, C ≥ 60, D"})
    enterprises = fields.Integer(required=True, metadata={"description": "component E, 0–100"})
    administrators = fields.Integer(allow_none=True, metadata={"description": "component G"})
    third_parties = fields.Integer(allow_none=True, metadata={"description": "component T"})
    penalty = fields.Integer(required=True)
    rating_count = fields.Integer(required=True)
    upheld_disputes = fields.Integer(required=True)
    late_deliveries = fields.Integer(required=True)


class ProviderPublicOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    region_code = fields.String(required=True)
    region_name = fields.Method("get_region_name", allow_none=True)
    institution_type = fields.Enum(InstitutionType, by_value=True, required=True)
    accreditation_level = fields.Enum(AccreditationLevel, by_value=True, allow_none=True)
    service_categories = fields.List(fields.String(), required=True)
    description = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    credit_score = fields.Integer(required=True)
    qualifications = fields.List(fields.Nested(QualificationOut), required=True)
    admitted_at = ZonedDateTime(allow_none=True)

    def get_region_name(self, provider: Any) -> str | None:
        return _region_name(provider.credit_code)


class ProviderProfileOut(Schema):
    """A provider's public page: its facts, programmes and credit."""

    provider = fields.Nested(ProviderPublicOut, required=True)
    programmes = fields.List(fields.Nested(ParticipationOut), required=True)
    credit = fields.Nested(CreditOut, required=True)


class NoticeOut(ProviderPublicOut):
    notice_starts_on = fields.Date(required=True)
    notice_ends_on = fields.Date(required=True)
    commitment_signed = fields.Boolean(required=True)


class StatusChangeOut(Schema):
    action = fields.Enum(ProviderAction, by_value=True, required=True)
    from_status = fields.Enum(ProviderStatus, by_value=True, required=True)
    to_status = fields.Enum(ProviderStatus, by_value=True, required=True)
    reason = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    occurred_at = ZonedDateTime(required=True)


class BankChangeOut(Schema):
    """A requested change of the settlement account (approved by finance after admission)."""

    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    bank_account_name = fields.String(required=True)
    bank_name = fields.String(required=True)
    bank_account_number = Masked("bank_account", required=True)
    status = fields.Enum(BankChangeStatus, by_value=True, required=True)
    requested_by_id = fields.Integer(allow_none=True)
    requested_at = ZonedDateTime(required=True)
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class ProviderOut(ProviderPublicOut):
    """The whole admission file, for the provider itself and administrators."""

    status = fields.Enum(ProviderStatus, by_value=True, required=True)
    status_reason = fields.String(allow_none=True)
    status_changed_at = ZonedDateTime(allow_none=True)
    submitted_at = ZonedDateTime(allow_none=True)
    notice_starts_on = fields.Date(allow_none=True)
    notice_ends_on = fields.Date(allow_none=True)
    contact_name = fields.String(required=True)
    contact_phone = Masked("phone", required=True)
    contact_email = Masked("email", required=True)
    bank_account_name = fields.String(allow_none=True)
    bank_name = fields.String(allow_none=True)
    bank_account_number = Masked("bank_account", allow_none=True)
    legal_rep_name = fields.String(allow_none=True)
    legal_rep_id_masked = fields.String(
        allow_none=True, metadata={"description": "the identity number, masked"}
    )
    pending_bank_change = fields.Nested(
        BankChangeOut,
        allow_none=True,
        metadata={
            "description": "a new settlement account awaiting finance approval; the bank_* "
            "fields above stay the live account (the one payouts use) until it is approved"
        },
    )
    pending_qualification_changes = fields.List(
        fields.Nested(QualificationChangeOut),
        required=True,
        metadata={
            "description": "qualification numbers awaiting a reviewer; `qualifications` above "
            "stay the live ones (shown publicly) until a change is accepted"
        },
    )
    version = fields.Integer(required=True)
    history = fields.List(fields.Nested(StatusChangeOut), required=True)
    programmes = fields.List(fields.Nested(ParticipationOut), required=True)
    missing = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "what the application still lacks (empty: complete)"},
    )


class DocumentOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.Enum(DocumentKind, by_value=True, required=True)
    original_filename = fields.String(required=True)
    content_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    expires_on = fields.Date(allow_none=True)
    uploaded_at = ZonedDateTime(required=True)
    provider_id = fields.Integer(required=True)
    review_status = fields.Enum(
        ReviewStatus,
        by_value=True,
        required=True,
        metadata={
            "description": "pending: awaits a reviewer (documents of an application are "
            "accepted with it at the pass to public notice); only accepted documents count, "
            "e.g. to keep an accreditation alive"
        },
    )
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class DocumentContentOut(DocumentOut):
    content_base64 = fields.String(required=True, metadata={"description": "the file, base64"})


class ProgrammeChoiceOut(Schema):
    programme_id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    year = fields.Integer(required=True)
    notice_days = fields.Integer(required=True)
    eligible_categories = fields.List(fields.String(), required=True)
    status = fields.Enum(ParticipationStatus, by_value=True, allow_none=True)


class CommitmentTextOut(Schema):
    version = fields.String(required=True)
    text = fields.String(required=True)
    sha256 = fields.String(required=True)
    signed = fields.Boolean(required=True)
    signer_name = fields.String(allow_none=True)
    signer_title = fields.String(allow_none=True)
    signed_at = ZonedDateTime(allow_none=True)


class InstrumentOut(Schema):
    instrument_name = fields.String(required=True)
    model = fields.String(required=True)
    manufacturer = fields.String(allow_none=True)
    location = fields.String(required=True)
    hourly_rate_fen = Fen(required=True)
    booking_notes = fields.String(allow_none=True)


class ServiceOut(Schema):
    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    provider_name = fields.Function(lambda s: s.provider.name, required=True)
    provider_credit_score = fields.Function(lambda s: s.provider.credit_score, required=True)
    title = fields.String(required=True)
    category = fields.Enum(ServiceCategory, by_value=True, required=True)
    description = fields.String(required=True)
    pricing = fields.Enum(PricingMode, by_value=True, required=True)
    price_fen = Fen(allow_none=True, metadata={"description": "null: quote on request"})
    currency = fields.Constant("CNY")
    unit = fields.String(required=True)
    lead_time_days = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)
    rating_count = fields.Integer(required=True)
    rating_avg_x100 = fields.Integer(
        required=True, metadata={"description": "average stars × 100 (0 while unrated)"}
    )
    instrument = fields.Nested(InstrumentOut, allow_none=True)
    provider_region_code = fields.Function(lambda s: s.provider.region_code, required=True)
    provider_region_name = fields.Function(
        lambda s: regions.full_name(s.provider.region_code),
        required=True,
        metadata={"description": "GB/T 2260 name down to the county, e.g. 云南省昆明市五华区"},
    )
    provider_qualifications = fields.List(
        fields.Nested(QualificationOut),
        attribute="provider.qualifications",
        required=True,
        metadata={"description": "accreditations with their validity (searchable: 'CNAS 检测')"},
    )
    version = fields.Integer(required=True)
    created_at = ZonedDateTime(required=True)


class RatingOut(Schema):
    service_id = fields.Integer(required=True)
    stars = fields.Integer(required=True)
    comment = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)


class RelatedPartyWithdrawalOut(Schema):
    """A provider's request to end a declaration, decided by a reviewer."""

    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    declaration_id = fields.Integer(required=True)
    reason = fields.String(required=True)
    status = fields.Enum(ReviewStatus, by_value=True, required=True)
    requested_by_id = fields.Integer(allow_none=True)
    requested_at = ZonedDateTime(required=True)
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class RelatedPartyOut(Schema):
    id = fields.Integer(required=True)
    credit_code = fields.String(required=True)
    name = fields.String(required=True)
    relation = fields.Enum(RelationKind, by_value=True, required=True)
    note = fields.String(allow_none=True)
    declared_at = ZonedDateTime(required=True)
    withdrawn_at = ZonedDateTime(
        allow_none=True, metadata={"description": "null: the declaration is in force"}
    )
    withdrawal_reason = fields.String(allow_none=True)
    pending_withdrawal = fields.Nested(
        RelatedPartyWithdrawalOut,
        allow_none=True,
        metadata={
            "description": "a request to end the declaration awaiting a reviewer; until it is "
            "accepted the declaration stays in force"
        },
    )


class ObjectionReceiptOut(Schema):
    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    filed_at = ZonedDateTime(required=True)
    status = fields.Enum(ObjectionStatus, by_value=True, required=True)


class ObjectionOut(ObjectionReceiptOut):
    notice_change_id = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the pass-to-notice step (history id) opening the notice round it "
            "was filed in; only the current round's objections bear on admission"
        },
    )
    objector_name = fields.String(required=True)
    objector_contact = fields.String(required=True)
    grounds = fields.String(required=True)
    decision_reason = fields.String(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = ZonedDateTime(allow_none=True)


class CreditEventOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.Enum(CreditEventKind, by_value=True, required=True)
    order_ref = fields.String(required=True)
    occurred_on = fields.Date(required=True)
    note = fields.String(allow_none=True)
    recorded_at = ZonedDateTime(required=True)


class AssessmentOut(Schema):
    id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    assessor_kind = fields.Enum(AssessorKind, by_value=True, required=True)
    evaluator_name = fields.String(required=True)
    score = fields.Integer(required=True)
    period = fields.String(required=True)
    comment = fields.String(required=True)
    report_ref = fields.String(allow_none=True)
    created_at = ZonedDateTime(required=True)


class ProviderSummaryOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    institution_type = fields.Enum(InstitutionType, by_value=True, required=True)
    status = fields.Enum(ProviderStatus, by_value=True, required=True)
    submitted_at = ZonedDateTime(allow_none=True)
    notice_ends_on = fields.Date(allow_none=True)
    credit_score = fields.Integer(required=True)


# --------------------------------------------------------------------------- inputs
#
# Every rule a service applies to a single field is stated here too, so the OpenAPI document
# says exactly what is accepted: lengths are counted after surrounding white space is removed
# (hence the ``pattern``s), formats are regular expressions shared with providers.rules.
# Rules that depend on the state of the platform answer 409, not 422.


#: Any character but NUL (PostgreSQL cannot store it).
_CHAR = r"[^\x00]"


def nonblank(minimum: int) -> str:
    """A pattern: at least ``minimum`` characters once surrounding white space is removed."""
    if minimum <= 1:
        return rf"^{WS}*{SOLID}{_CHAR}*$"
    return rf"^{WS}*{SOLID}{_CHAR}{{{minimum - 2},}}{SOLID}{WS}*$"


class Text(fields.String):
    """A string without NUL characters or lone surrogates (PostgreSQL stores neither), its
    rule stated as one ``pattern``: a minimum length besides white space, or a format."""

    def __init__(
        self, *, min_length: int = 0, max_length: int, pattern: str | None = None, **kwargs: Any
    ) -> None:
        if pattern is None:
            pattern = nonblank(min_length) if min_length else rf"^{_CHAR}*$"
            error = (
                f"at least {min_length} characters besides white space"
                if min_length
                else "must not contain NUL characters"
            )
        else:
            error = "not in the expected format"
        validators = [validate.Length(max=max_length), validate.Regexp(pattern, error=error)]
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("not valid Unicode text") from None
        return text


_reason = Text(required=True, min_length=1, max_length=MAX_REASON_LENGTH)


class ProfileIn(StrictSchema):
    """Fields to change (only those sent); ``version`` is the one you read."""

    version = fields.Integer(required=True, strict=True)
    accreditation_level = fields.Enum(AccreditationLevel, by_value=True, allow_none=True)
    service_categories = fields.List(fields.Enum(ServiceCategory, by_value=True))
    description = Text(allow_none=True, max_length=5000)
    address = Text(allow_none=True, max_length=300)
    website = Text(allow_none=True, max_length=300, pattern=WEBSITE_INPUT)
    contact_name = Text(min_length=1, max_length=100)
    contact_phone = Text(min_length=1, max_length=40)
    contact_email = Text(max_length=254, pattern=EMAIL_INPUT)
    bank_account_name = Text(allow_none=True, max_length=200)
    bank_name = Text(allow_none=True, max_length=200)
    bank_account_number = Text(allow_none=True, max_length=60, pattern=BANK_ACCOUNT_INPUT)
    legal_rep_name = Text(allow_none=True, max_length=100)
    legal_rep_id_number = Text(
        allow_none=True,
        max_length=30,
        metadata={
            "description": "resident identity number (GB 11643); stored only as a keyed hash "
            "and shown masked. Omit it and send the same legal_rep_name to keep the one on "
            "record"
        },
    )


class _QualificationIn(StrictSchema):
    valid_until = fields.Date(load_default=None, allow_none=True)
    scope = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "what the accreditation covers (test items, standards)"},
    )


class CmaIn(_QualificationIn):
    number = Text(required=True, max_length=60, pattern=QUALIFICATION_INPUTS[QualificationKind.CMA])


class CnasIn(_QualificationIn):
    number = Text(
        required=True, max_length=60, pattern=QUALIFICATION_INPUTS[QualificationKind.CNAS]
    )


class PatentAgencyIn(_QualificationIn):
    number = Text(
        required=True,
        max_length=60,
        pattern=QUALIFICATION_INPUTS[QualificationKind.PATENT_AGENCY],
    )


class DocumentUploadIn(StrictSchema):
    """The form fields of a multipart upload (the file goes in the part named ``file``)."""

    kind = fields.Enum(DocumentKind, by_value=True, required=True)
    expires_on = fields.Date(load_default=None, allow_none=True)


class CommitmentIn(StrictSchema):
    signer_name = Text(required=True, min_length=2, max_length=100)
    signer_title = Text(required=True, min_length=2, max_length=100)
    agreed = fields.Boolean(required=True, validate=validate.Equal(True))


class ProgrammesIn(StrictSchema):
    programme_ids = fields.List(Id(strict=True), required=True, validate=validate.Length(max=50))


class InstrumentIn(StrictSchema):
    instrument_name = Text(required=True, min_length=2, max_length=200)
    model = Text(required=True, min_length=1, max_length=100)
    manufacturer = Text(load_default=None, allow_none=True, max_length=100)
    location = Text(required=True, min_length=2, max_length=200)
    hourly_rate_fen = Fen(required=True, validate=validate.Range(min=1, max=MAX_PRICE_FEN))
    booking_notes = Text(load_default=None, allow_none=True, max_length=2000)


_title = Text(required=True, min_length=2, max_length=200)
_description = Text(required=True, min_length=10, max_length=5000)
_lead_time = fields.Integer(
    required=True, strict=True, validate=validate.Range(min=1, max=MAX_LEAD_TIME_DAYS)
)


class ServiceIn(StrictSchema):
    """An ordinary service: a fixed price per unit, or ``price_fen: null`` for a quote."""

    title = _title
    category = fields.String(
        required=True,
        validate=validate.OneOf(
            [c.value for c in ServiceCategory if c is not ServiceCategory.INSTRUMENT_SHARING]
        ),
        metadata={"description": "instrument sharing is listed under /provider/instruments"},
    )
    description = _description
    price_fen = Fen(
        required=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_PRICE_FEN),
        metadata={"description": "price per unit in fen; null: quote on request"},
    )
    unit = Text(required=True, min_length=1, max_length=20)
    lead_time_days = _lead_time


class ServiceUpdateIn(ServiceIn):
    version = fields.Integer(required=True, strict=True)


class InstrumentServiceIn(StrictSchema):
    """An instrument-sharing listing: its hourly rate is the price, per hour."""

    title = _title
    description = _description
    lead_time_days = _lead_time
    instrument = fields.Nested(InstrumentIn, required=True)


class InstrumentServiceUpdateIn(InstrumentServiceIn):
    version = fields.Integer(required=True, strict=True)


class ServiceActiveIn(StrictSchema):
    is_active = fields.Boolean(required=True)
    version = fields.Integer(required=True, strict=True)


class RelatedPartyIn(StrictSchema):
    credit_code = Text(
        required=True,
        max_length=40,
        metadata={
            "description": "统一社会信用代码; checked per GB 32100-2015 (invalid_credit_code)"
        },
    )
    name = Text(required=True, min_length=2, max_length=200)
    relation = fields.Enum(RelationKind, by_value=True, required=True)
    note = Text(load_default=None, allow_none=True, max_length=2000)


class ReasonIn(StrictSchema):
    reason = _reason


class NoteIn(StrictSchema):
    """An optional note with an acceptance."""

    reason = Text(load_default=None, allow_none=True, max_length=MAX_REASON_LENGTH)


class ObjectionIn(StrictSchema):
    objector_name = Text(required=True, min_length=2, max_length=100)
    objector_contact = Text(required=True, min_length=5, max_length=200)
    grounds = Text(required=True, min_length=10, max_length=5000)


class ParticipationDecisionIn(StrictSchema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            [
                ParticipationStatus.ADMITTED.value,
                ParticipationStatus.REJECTED.value,
                ParticipationStatus.WITHDRAWN.value,
            ]
        ),
    )
    reason = _reason


class AssessmentIn(StrictSchema):
    """An administrator's own assessment."""

    evaluator_name = Text(required=True, min_length=2, max_length=200)
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    period = Text(
        required=True,
        max_length=20,
        pattern=PERIOD_INPUT,
        metadata={
            "description": "a year, a half or a quarter: 2026, 2026-H1, 2026-Q3. One assessment "
            "counts per evaluator and period: another for the same replaces it"
        },
    )
    comment = Text(required=True, min_length=5, max_length=5000)
    report_ref = Text(load_default=None, allow_none=True, max_length=100)


class ThirdPartyAssessmentIn(AssessmentIn):
    """A third-party evaluator's report, entered by an administrator."""

    report_ref = Text(required=True, min_length=1, max_length=100)


class ServiceSearchQuery(PageQuerySchema):
    q = Text(load_default="", max_length=200)
    category = fields.Enum(ServiceCategory, by_value=True, load_default=None)
    institution_type = fields.Enum(InstitutionType, by_value=True, load_default=None)
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(REGION_INPUT),
        metadata={"description": "division-code prefix: 53 Yunnan, 5301 Kunming, 530102"},
    )
    min_price_fen = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "fen"},
    )
    max_price_fen = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "fen"},
    )
    min_rating = fields.Integer(load_default=None, validate=validate.Range(min=1, max=5))
    programme_id = Id(load_default=None)
    provider_id = Id(load_default=None)
    accreditation = fields.Enum(
        QualificationKind,
        by_value=True,
        load_default=None,
        metadata={"description": "only providers holding a valid qualification of this kind"},
    )
    sort = fields.Enum(SortOrder, by_value=True, load_default=SortOrder.RELEVANCE)


class ProviderListQuery(PageQuerySchema):
    status = fields.Enum(ProviderStatus, by_value=True, load_default=None)
    submitted = fields.Boolean(
        load_default=None, metadata={"description": "pending only: submitted (true) or drafts"}
    )


class BankChangeListQuery(PageQuerySchema):
    status = fields.Enum(
        BankChangeStatus,
        by_value=True,
        load_default=None,
        metadata={"description": "pending: the finance officers' queue"},
    )
    provider_id = Id(load_default=None)


class ReviewListQuery(PageQuerySchema):
    status = fields.Enum(
        ReviewStatus,
        by_value=True,
        load_default=None,
        metadata={"description": "pending: the reviewers' queue"},
    )
    provider_id = Id(load_default=None)


class ObjectionListQuery(PageQuerySchema):
    status = fields.Enum(ObjectionStatus, by_value=True, load_default=None)
    provider_id = Id(load_default=None)


class RevealIn(StrictSchema):
    subject_type = fields.String(
        required=True, validate=validate.OneOf(sorted({t for t, _ in REVEALABLE}))
    )
    subject_id = Id(required=True)
    field = fields.String(
        required=True, validate=validate.OneOf(sorted({f for _, f in REVEALABLE}))
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=MIN_REASON, max=500),
        metadata={"description": "why you need the whole value; kept in the audit trail"},
    )


class RevealOut(Schema):
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True)
    field = fields.String(required=True)
    value = fields.String(required=True, metadata={"description": "the whole value"})
    masked = fields.String(required=True, metadata={"description": "as pages show it"})
