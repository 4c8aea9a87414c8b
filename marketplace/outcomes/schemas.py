"""Marshmallow schemas of the outcomes API (tag ``outcomes``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.enums import ServiceCategory
from marketplace.outcomes.enums import PatentType, SummaryBy
from marketplace.schemas import Id, StrictSchema, ZonedDateTime


class PatentIn(StrictSchema):
    number = fields.String(required=True, validate=validate.Length(1, 40))
    type = fields.Enum(PatentType, by_value=True, required=True)


class OutcomeIn(StrictSchema):
    patents = fields.List(fields.Nested(PatentIn), load_default=list)
    certifications = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10_000))
    certification_note = fields.String(load_default="", validate=validate.Length(max=2000))
    high_tech_recognised = fields.Boolean(load_default=False)
    new_products = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10_000))
    new_processes = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10_000))
    revenue_effect_fen = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 10**13)
    )
    cost_effect_fen = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 10**13)
    )
    notes = fields.String(load_default="", validate=validate.Length(max=5000))
    version = fields.Integer(
        strict=True,
        load_default=None,
        metadata={"description": "the version you read, when editing (412 if stale)"},
    )


class PatentOut(Schema):
    number = fields.String(required=True)
    type = fields.String(required=True)


class OutcomeOut(Schema):
    order_id = fields.Integer(required=True)
    patents = fields.List(fields.Nested(PatentOut), required=True)
    patent_count = fields.Integer(required=True)
    certifications = fields.Integer(required=True)
    certification_note = fields.String(required=True)
    high_tech_recognised = fields.Boolean(required=True)
    new_products = fields.Integer(required=True)
    new_processes = fields.Integer(required=True)
    revenue_effect_fen = fields.Integer(required=True)
    cost_effect_fen = fields.Integer(required=True)
    notes = fields.String(required=True)
    editable_until = fields.Date(required=True)
    version = fields.Integer(required=True)
    updated_at = ZonedDateTime(required=True)


class SummaryQuery(StrictSchema):
    by = fields.Enum(SummaryBy, by_value=True, load_default=SummaryBy.PROGRAMME)
    year = fields.Integer(load_default=None, validate=validate.Range(2000, 2100))


class SummaryOut(Schema):
    key = fields.String(required=True)
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    orders = fields.Integer(required=True, metadata={"description": "completed voucher orders"})
    reported = fields.Integer(required=True, metadata={"description": "of which with outcomes"})
    voucher_fen = fields.Integer(required=True)
    patents = fields.Integer(required=True)
    certifications = fields.Integer(required=True)
    high_tech = fields.Integer(required=True)
    new_products = fields.Integer(required=True)
    new_processes = fields.Integer(required=True)
    revenue_effect_fen = fields.Integer(required=True)
    cost_effect_fen = fields.Integer(required=True)
    per_10k_x100 = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "each count per ¥10,000 of voucher money, ×100"},
    )


class RecordsQuery(StrictSchema):
    """The records behind a summary row: one year, narrowed like the row."""

    year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    programme_id = Id(load_default=None)
    category = fields.Enum(ServiceCategory, by_value=True, load_default=None)
    prefecture = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{4}00$", error="a prefecture code such as 530100"),
    )


class RecordOut(Schema):
    order_id = fields.Integer(required=True)
    status = fields.String(required=True)
    enterprise_id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    voucher_part_fen = fields.Integer(required=True)
    outcome = fields.Nested(
        OutcomeOut,
        allow_none=True,
        required=True,
        metadata={"description": "null: not reported yet"},
    )
