"""Keyset (cursor) pagination: stable under inserts, cheap at any depth."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from marketplace.errors import ValidationFailed

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


class PageQuerySchema(Schema):
    """Query fields every list endpoint accepts; subclasses add filters and ``sort``."""

    cursor = fields.String(
        load_default=None, metadata={"description": "opaque cursor from next_cursor"}
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"page size, 1–{MAX_LIMIT}"},
    )


@functools.cache
def page_schema(item_schema: type[Schema]) -> type[Schema]:
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        },
        name=name,
    )


def _encode(values: list[Any]) -> str:
    # Datetimes are tagged so the cursor decodes to the same type it was made from.
    plain = [{"dt": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise ValueError("bad id")
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
            if value.tzinfo is None:
                raise ValueError("naive datetime")
        elif not isinstance(value, int | str):
            raise ValueError("bad sort value")
        return [value, ident]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("invalid cursor", {"cursor": ["Invalid cursor."]}) from None


def paginate(
    session: Session,
    stmt: sa.Select[Any],
    *,
    sort_column: Any,
    id_column: Any,
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> Page:
    """Run ``stmt`` ordered by (sort_column, id) and return one page after ``cursor``."""
    if cursor:
        value, ident = _decode(cursor)
        key = sa.tuple_(sort_column, id_column)
        stmt = stmt.where(key < (value, ident) if descending else key > (value, ident))
    order = (sort_column.desc(), id_column.desc()) if descending else (sort_column, id_column)
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode([getattr(last, sort_column.key), getattr(last, id_column.key)])
    return Page(items=rows, next_cursor=next_cursor)
