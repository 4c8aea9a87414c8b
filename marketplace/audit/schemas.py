from __future__ import annotations

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


class AuditEventOut(Schema):
    id = fields.Integer(required=True)
    occurred_at = ZonedDateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(allow_none=True)
    detail = fields.Dict(required=True)
