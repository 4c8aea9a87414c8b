"""Shared marshmallow building blocks: money in fen, zoned times, labelled enums."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from marketplace import masking
from marketplace.credit_code import CreditCodeError, parse_credit_code

#: Largest row id (PostgreSQL BIGINT); larger numbers can name nothing.
MAX_ID = 2**63 - 1


class Masked(fields.String):
    """Personal data, dumped masked (``marketplace/masking.py``) unless the request shows
    ``kind`` in full; the field's description says so in the OpenAPI document."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        if kind not in masking.MASKERS:
            raise ValueError(f"unknown kind of personal data: {kind}")
        self.kind = kind
        metadata = {
            "description": f"personal data ({kind.replace('_', ' ')}), shown masked; "
            "POST /api/v1/personal-data/reveal shows it whole",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(dump_only=True, metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return masking.shown(self.kind, None if value is None else str(value))


class Id(fields.Integer):
    """A row id: a whole number from 1 to MAX_ID."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)


class StrictSchema(Schema):
    """Input schemas refuse unknown fields (marshmallow's RAISE, stated explicitly)."""

    class Meta:
        unknown = "raise"


class Fen(fields.Integer):
    """An amount in integer fen; floats and strings are refused, never rounded."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strict", True)
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("description", "amount in fen (1/100 CNY)")
        kwargs.setdefault("validate", validate.Range(min=0))
        super().__init__(metadata={"format": "int64", "x-currency": "CNY", **metadata}, **kwargs)


_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?P<frac>\.\d+)?(?P<zone>[Zz]|[+-]\d{2}:\d{2})$"
)


class ZonedDateTime(fields.AwareDateTime):
    """ISO 8601 / RFC 3339 with an explicit zone on input and output.

    Accepts everything RFC 3339 allows, including lower-case ``t``/``z`` and a leap second
    (``:60``, read as the last microsecond of that minute, since Python has no second 60).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str):
            match = _RFC3339.match(value.strip())
            if match and match["s"] == "60":
                normalised = value.strip()[: match.start("s")] + "59.999999" + match["zone"]
                return super()._deserialize(normalised.upper(), attr, data, **kwargs)
            if match:
                value = value.strip().upper()
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.isoformat()


class CreditCodeField(fields.String):
    """A unified social credit code, validated per GB 32100-2015 and normalised."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("description", "统一社会信用代码 (18 characters, GB 32100-2015)")
        super().__init__(metadata={"example": "91530102MA6K00014A", **metadata}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_credit_code(raw).value
        except CreditCodeError as exc:
            raise ValidationError(exc.message) from None


class MoneyOut(Schema):
    fen = fields.Integer(required=True)
    currency = fields.Constant("CNY")
