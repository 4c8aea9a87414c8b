"""One error shape for the whole API: ``application/problem+json`` (RFC 9457).

Every body has ``type``, ``title``, ``status``, ``detail`` and a stable machine-readable
``code``; validation failures add ``errors`` (field → messages); inside a request or job the
body also carries ``request_id``, the id in the ``X-Request-Id`` header and in the logs, so a
caller can quote it to an operator. Nothing from a stack trace or a database message ever
reaches a body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response

from marketplace.observability import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://voucher.example.cn/problems/"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail or title,
    }
    if errors:
        body["errors"] = _stringify(errors)
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    # Extension members (RFC 9457 §3.2) may not replace the standard ones: a clashing name
    # (an order's "status", say) goes under "context" instead.
    extra = {**(extensions or {}), **extra}
    clashing = {k: v for k, v in extra.items() if k in body}
    body.update({k: v for k, v in extra.items() if k not in body})
    if clashing:
        body["context"] = clashing
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _stringify(errors: Mapping[str, Any]) -> dict[str, Any]:
    """marshmallow nests messages; lazy strings must become plain strings for JSON."""
    out: dict[str, Any] = {}
    for key, value in errors.items():
        if isinstance(value, Mapping):
            out[str(key)] = _stringify(value)
        elif isinstance(value, list | tuple):
            out[str(key)] = [_stringify(v) if isinstance(v, Mapping) else str(v) for v in value]
        else:
            out[str(key)] = [str(value)]
    return out


class ApiProblem(Exception):
    """Raise from API code to answer with a problem body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def to_response(self) -> Response:
        return problem(
            self.status,
            self.code,
            self.title,
            self.detail,
            errors=self.errors,
            headers=self.headers,
        )
