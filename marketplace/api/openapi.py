"""The OpenAPI 3 document, generated from the ``@endpoint`` declarations."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from marketplace.api.endpoint import REGISTRY, STEP_UP_HEADER, EndpointSpec
from marketplace.auth.scopes import AREAS
from marketplace.pagination import page_schema
from marketplace.problems import PROBLEM_MEDIA_TYPE
from marketplace.schemas import MAX_ID

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable machine-readable error code"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "field → list of messages",
            "additionalProperties": True,
        },
        "request_id": {
            "type": "string",
            "description": "the id in the X-Request-Id header and the logs; quote it to support",
        },
    },
    "additionalProperties": True,
}

_ERROR_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid token",
    403: "The role may not do this (`forbidden`), the token lacks the scope "
    "(`insufficient_scope`) or the second factor is missing (`step_up_required`)",
    404: "Not found",
    409: "Conflicts with the current state or a rule",
    412: "The resource changed (If-Match failed)",
    415: "Body is not JSON",
    422: "Invalid input (field-level messages in `errors`)",
    428: "Idempotency-Key required",
    429: "Rate limit exceeded",
}


def _path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in _CONVERTER.finditer(rule):
        # Flask's int converter matches only non-negative numbers; our ids start at 1.
        schema = (
            {"type": "integer", "minimum": 1, "maximum": MAX_ID}
            if match["conv"] == "int"
            else {"type": "string"}
        )
        params.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule), params


def _error_codes(spec: EndpointSpec) -> set[int]:
    # 401 everywhere: a request that presents a bad token is refused even on public endpoints.
    codes = {401, 429, 500} | set(spec.errors)
    if spec.query or spec.body or spec.method in {"GET", "DELETE"}:
        codes.add(422)
    if spec.body:
        codes |= {400, 415}
    if spec.roles is not None:
        codes.add(403)
    if spec.idempotent:
        codes |= {400, 422}
    if spec.idempotency_required:
        codes.add(428)
    if "<" in spec.rule:
        codes.add(404)
    codes.discard(500)
    return codes


def _operation(spec: EndpointSpec, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.endpoint.replace(".", "_"),
        "summary": spec.summary,
        "tags": list(spec.tags),
        "parameters": list(path_params),
        "responses": {},
    }
    if spec.description:
        op["description"] = spec.description
    if spec.roles is None:
        op["security"] = []
    else:
        roles = sorted(r.value for r in spec.roles)
        op["description"] = (
            op.get("description", "")
            + f"\n\nRoles: {', '.join(roles)}. Token scope: `{spec.scope}`."
        ).strip()
        op["x-required-scope"] = spec.scope
    if spec.step_up:
        op["x-step-up"] = True
        op["description"] += (
            f"\n\nMoves money or reveals personal data: send your current second-factor code "
            f"in `{STEP_UP_HEADER}` (each code is accepted once); without it the answer is 403 "
            "`step_up_required`."
        )
        op["parameters"].append(
            {
                "in": "header",
                "name": STEP_UP_HEADER,
                "required": True,
                "schema": {"type": "string", "minLength": 6, "maxLength": 20},
                "description": "the current code of your authenticator (or a recovery code)",
            }
        )
    if spec.query is not None:
        op["parameters"].append({"in": "query", "schema": spec.query})
    if spec.idempotent:
        op["parameters"].append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": spec.idempotency_required,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "same key and body → the stored response is replayed, no second effect",
            }
        )
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec.body}},
        }
    if spec.response is None:
        op["responses"][str(spec.status)] = {"description": "Done"}
    else:
        schema: Any = spec.response
        if spec.paginated:
            schema = page_schema(spec.response)
        elif spec.many:
            schema = {"type": "array", "items": spec.response}
        op["responses"][str(spec.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schema}},
        }
    for code in sorted(_error_codes(spec)):
        op["responses"][str(code)] = {
            "description": _ERROR_TEXT.get(code, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return op


def _name_resolver() -> Any:
    """Component names from class names; classes that share a name (``ReasonIn`` in two
    packages) get their package's name in front, so no component is silently renamed."""
    names: dict[type, str] = {}
    taken: set[str] = set()

    def resolve(schema: Any) -> str:
        cls = schema if isinstance(schema, type) else type(schema)
        if cls in names:
            return names[cls]
        name = cls.__name__.removesuffix("Schema") or cls.__name__
        if name in taken:
            package = "".join(part.title() for part in cls.__module__.split(".")[:2])
            name = package + name
        names[cls] = name
        taken.add(name)
        return name

    return resolve


def build_openapi(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="创新券服务平台 API · Innovation Voucher Marketplace API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_name_resolver())],
        info={
            "description": (
                "JSON API of the Yunnan innovation voucher marketplace. Amounts are integer fen "
                "(1/100 CNY); times are ISO 8601 with zone. Errors are application/problem+json."
            )
        },
        servers=[{"url": "/"}],
    )
    spec.components.schema("Problem", PROBLEM_SCHEMA)
    scope_list = "; ".join(
        f"`{area}:read` / `{area}:write` — {what}" for area, what in AREAS.items()
    )
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "personal API token. Each token carries scopes, and each operation names the "
                "one it needs in `x-required-scope` (a token without it gets 403 "
                f"`insufficient_scope`; write includes read of the same area): {scope_list}. "
                "Tokens made before scopes existed keep full scope until rotated."
            ),
        },
    )
    spec.options["security"] = [{"bearerAuth": []}]
    registered = {rule.endpoint for rule in app.url_map.iter_rules()}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint_spec in REGISTRY:
        if endpoint_spec.endpoint not in registered:
            continue
        path, params = _path_and_params(endpoint_spec.rule)
        paths.setdefault(path, {})[endpoint_spec.method.lower()] = _operation(endpoint_spec, params)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()
