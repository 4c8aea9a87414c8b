"""Marshmallow schemas of the risk API (tag ``risk``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from marketplace.orders.schemas import FileIn
from marketplace.pagination import PageQuerySchema
from marketplace.risk import rules
from marketplace.risk.enums import FindingOutcome, FollowUp, Rule
from marketplace.schemas import Id, StrictSchema, ZonedDateTime


def _rule_label(obj: Any) -> dict[str, str]:
    return {"zh": obj.rule.zh, "en": obj.rule.en}


class FlagQuery(PageQuerySchema):
    rule = fields.Enum(Rule, by_value=True, load_default=None)
    programme_id = Id(load_default=None)
    provider_id = Id(load_default=None)
    order_id = Id(load_default=None)
    min_score = fields.Integer(load_default=0, validate=validate.Range(0, 100))


class FlagOut(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    rule = fields.Enum(Rule, by_value=True, required=True)
    rule_label = fields.Function(_rule_label)
    weight = fields.Integer(required=True)
    explanation_zh = fields.String(required=True)
    explanation_en = fields.String(required=True)
    links = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Integer()),
        metadata={"description": "the records the flag rests on: orders, enterprises, …"},
    )
    raised_at = ZonedDateTime(required=True)
    score = fields.Function(
        lambda f: f.risk.score if f.risk is not None else None,
        metadata={"description": "the order's risk score, 0–100"},
    )


class OrderRiskOut(Schema):
    order_id = fields.Integer(required=True)
    score = fields.Integer(required=True)
    assessed_at = ZonedDateTime(required=True)
    flags = fields.List(fields.Nested(FlagOut), required=True)


class AssessmentOut(Schema):
    orders = fields.Integer(required=True)
    flagged = fields.Integer(required=True)
    flags = fields.Integer(required=True)


class SettingOut(Schema):
    rule = fields.Enum(Rule, by_value=True, required=True)
    threshold = fields.Integer(required=True)
    weight = fields.Integer(required=True)
    enabled = fields.Boolean(required=True)
    unit = fields.String(required=True)


class SettingIn(StrictSchema):
    threshold = fields.Integer(strict=True, required=True, validate=validate.Range(0, 10**12))
    weight = fields.Integer(strict=True, required=True, validate=validate.Range(0, 100))
    enabled = fields.Boolean(load_default=True)


class SampleIn(StrictSchema):
    size = fields.Integer(strict=True, required=True, validate=validate.Range(1, 1000))
    seed = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(0, 2**62 - 1),
        metadata={"description": "omit for a random seed; it is recorded either way"},
    )
    programme_id = Id(strict=True, load_default=None)
    provider_id = Id(strict=True, load_default=None)
    min_score = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 100))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class FindingDocumentOut(Schema):
    id = fields.Integer(required=True)
    original_filename = fields.String(required=True)
    content_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)


class FindingOut(Schema):
    id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    outcome = fields.Enum(FindingOutcome, by_value=True, required=True)
    follow_up = fields.Enum(FollowUp, by_value=True, required=True)
    notes = fields.String(required=True)
    recovery_fen = fields.Integer(required=True)
    recorded_by_id = fields.Integer(allow_none=True)
    recorded_at = ZonedDateTime(required=True)
    documents = fields.List(fields.Nested(FindingDocumentOut))


class SampleItemOut(Schema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    score = fields.Integer(required=True, metadata={"description": "the score when drawn"})
    finding = fields.Nested(FindingOut, allow_none=True)


class SampleOut(Schema):
    id = fields.Integer(required=True)
    size = fields.Integer(required=True)
    seed = fields.Integer(required=True)
    programme_id = fields.Integer(allow_none=True)
    provider_id = fields.Integer(allow_none=True)
    min_score = fields.Integer(required=True)
    population = fields.Integer(required=True)
    note = fields.String(required=True)
    drawn_by_id = fields.Integer(allow_none=True)
    drawn_at = ZonedDateTime(required=True)
    items = fields.List(fields.Nested(SampleItemOut))


class FindingIn(StrictSchema):
    outcome = fields.Enum(FindingOutcome, by_value=True, required=True)
    notes = fields.String(required=True, validate=validate.Length(1, 5000))
    follow_up = fields.Enum(FollowUp, by_value=True, load_default=FollowUp.NONE)
    documents = fields.List(
        fields.Nested(FileIn), load_default=list, validate=validate.Length(max=5)
    )


class FindingQuery(PageQuerySchema):
    outcome = fields.Enum(FindingOutcome, by_value=True, load_default=None)
    provider_id = Id(load_default=None)


class PartyMatchOut(Schema):
    party_kind = fields.String(required=True)
    party_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    strong = fields.Boolean(required=True)
    evidence = fields.String(required=True)


def setting_rows(current: dict[Rule, rules.Setting]) -> list[dict[str, Any]]:
    return [
        {
            "rule": rule,
            "threshold": s.threshold,
            "weight": s.weight,
            "enabled": s.enabled,
            "unit": rules.UNITS[rule],
        }
        for rule, s in current.items()
    ]


class ClaimOrderRiskOut(Schema):
    order_id = fields.Integer(required=True)
    score = fields.Integer(allow_none=True, metadata={"description": "null: not assessed"})


class ClaimRiskOut(Schema):
    claim_id = fields.Integer(required=True)
    score = fields.Integer(
        required=True, metadata={"description": "the highest score of the claim's orders"}
    )
    orders = fields.List(fields.Nested(ClaimOrderRiskOut), required=True)
