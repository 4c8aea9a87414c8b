from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields, validate

from marketplace.pagination import PageQuerySchema
from marketplace.schemas import Id, ZonedDateTime


class AuditQuerySchema(PageQuerySchema):
    action = fields.String(
        load_default=None,
        validate=validate.Length(max=80),
        metadata={"description": "action, or its prefix ending in '.' (e.g. 'voucher.')"},
    )
    subject_type = fields.String(load_default=None, validate=validate.Length(max=40))
    subject_id = Id(load_default=None)
    actor_id = Id(load_default=None)
    since = ZonedDateTime(load_default=None)
    until = ZonedDateTime(load_default=None)
    enterprise_id = Id(load_default=None, metadata={"description": "its vouchers, orders…"})
    provider_id = Id(load_default=None, metadata={"description": "its services, orders, claims…"})
    programme_id = Id(load_default=None, metadata={"description": "its vouchers, applications"})
    order_id = Id(load_default=None, metadata={"description": "the order, its claim, its hold"})
    date_from = fields.Date(
        load_default=None,
        validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)),
        metadata={"description": "Beijing calendar day"},
    )
    date_to = fields.Date(
        load_default=None,
        validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)),
        metadata={"description": "inclusive"},
    )
    lang = fields.String(
        load_default="zh",
        validate=validate.OneOf(["zh", "en"]),
        metadata={"description": "language of the labels"},
    )


class AuditEventOut(Schema):
    id = fields.Integer(required=True)
    occurred_at = ZonedDateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(allow_none=True)
    detail = fields.Dict(required=True)


class ChangeOut(Schema):
    field = fields.String(required=True)
    before = fields.String(required=True)
    after = fields.String(required=True)


class ReadableEventOut(Schema):
    """One record as the auditor's page shows it: names, labels, Beijing time, a diff."""

    id = fields.Integer(required=True)
    occurred_at = ZonedDateTime(required=True)
    time_beijing = fields.String(attribute="time_text", required=True)
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(required=True)
    actor_role = fields.String(required=True)
    client_address = fields.String(required=True)
    action = fields.String(required=True)
    action_label = fields.String(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(allow_none=True)
    subject_label = fields.String(required=True)
    changes = fields.List(fields.Nested(ChangeOut), required=True)
    details = fields.Function(lambda e: dict(e.details), required=True)
    sealed = fields.Boolean(required=True)
