from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.pagination import PageQuerySchema
from marketplace.schemas import Id

EARLIEST_YEAR = 2018  # the Kunming policy (000) that started the service voucher
#: Any later year is a valid question (the answer for a future year is simply empty) up to a
#: bound that keeps "the start of the next year" a representable date.
LATEST_YEAR = 2999
YEARS = validate.Range(min=EARLIEST_YEAR, max=LATEST_YEAR)


class YearQuerySchema(Schema):
    year = fields.Integer(required=True, validate=YEARS)


class GrantQuerySchema(PageQuerySchema):
    year = fields.Integer(required=True, validate=YEARS)
    programme_id = Id(load_default=None)


class PayerOut(Schema):
    funder_name = fields.String(
        allow_none=True, metadata={"description": "the funder; null: the programme's own budget"}
    )
    funding_body = fields.Function(
        lambda p: p.funding_body.value if p.funding_body else None,
        allow_none=True,
        metadata={"description": "provincial / municipal, when no funder is named"},
    )
    share_bps = fields.Integer(
        required=True, metadata={"description": "share of the voucher part, basis points"}
    )


class GrantOut(Schema):
    voucher_id = fields.Integer(required=True)
    serial = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    credit_code = fields.String(required=True)
    region = fields.String(required=True)
    programme_id = fields.Integer(required=True)
    programme_name = fields.String(required=True)
    face_value_fen = fields.Integer(required=True)
    currency = fields.Constant("CNY")
    issued_on = fields.Date(required=True)
    revoked = fields.Boolean(required=True)
    payers = fields.List(fields.Nested(PayerOut), required=True)


class RedemptionOut(Schema):
    provider_id = fields.Integer(required=True)
    provider_name = fields.String(required=True)
    orders = fields.Integer(required=True)
    redeemed_fen = fields.Integer(required=True)
    currency = fields.Constant("CNY")


class BudgetOut(Schema):
    programme_id = fields.Function(lambda b: b.programme.id, required=True)
    programme_name = fields.Function(lambda b: b.programme.name, required=True)
    total_fen = fields.Integer(required=True)
    available_fen = fields.Integer(required=True)
    committed_fen = fields.Integer(required=True)
    spent_fen = fields.Integer(required=True)
    paid_out_fen = fields.Integer(required=True)
    low = fields.Boolean(required=True)


class FunderRedemptionOut(Schema):
    funder_id = fields.Integer(
        allow_none=True, metadata={"description": "null: the programme's own budget"}
    )
    funder_name = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    funding_body = fields.Function(
        lambda r: r.funding_body.value if r.funding_body else None, allow_none=True
    )
    orders = fields.Integer(required=True)
    redeemed_fen = fields.Integer(required=True)
    currency = fields.Constant("CNY")


class StatisticsOut(Schema):
    year = fields.Integer(required=True)
    currency = fields.Constant("CNY")
    budgets = fields.List(fields.Nested(BudgetOut), required=True)
    vouchers_issued = fields.Integer(required=True)
    issued_fen = fields.Integer(required=True)
    enterprises_served = fields.Integer(required=True)
    redeemed_fen = fields.Integer(required=True)
    by_region = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_size = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    issued_by_month = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    redeemed_by_month = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_funder = fields.List(
        fields.Nested(FunderRedemptionOut),
        required=True,
        metadata={"description": "voucher money captured per paying treasury"},
    )
