"""The declarative layer every JSON endpoint goes through.

``@endpoint(...)`` states, next to the view, what it takes and what it returns: path, method,
input schemas (query and body), output schema, the roles allowed, and whether an
Idempotency-Key applies. The decorator authenticates the token, checks the role, validates
input (unknown fields are refused), handles Idempotency-Key replays, and serialises the output.
The same declarations generate the OpenAPI document, so the docs cannot drift from the code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, ValidationError

from marketplace.api import idempotency
from marketplace.api.auth import current_api_token, current_api_user, load_token_user
from marketplace.api.scopes import required_scope
from marketplace.auth import second_factor
from marketplace.auth.models import User
from marketplace.auth.scopes import grants
from marketplace.auth.throttle import LoginThrottle, count_failure
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import InvalidSecondFactor
from marketplace.pagination import Page, page_schema
from marketplace.parsing import ascii_int
from marketplace.problems import ApiProblem
from marketplace.schemas import MAX_ID

#: Any signed-in role.
ANY_ROLE: frozenset[Role] = frozenset(Role)
#: The header that carries the caller's current second-factor code for step-up operations.
STEP_UP_HEADER = "X-Second-Factor"


@dataclass(frozen=True)
class EndpointSpec:
    rule: str
    method: str
    endpoint: str
    summary: str
    description: str
    tags: tuple[str, ...]
    roles: frozenset[Role] | None  # None: public, no token needed
    query: type[Schema] | None
    body: type[Schema] | None
    response: type[Schema] | None
    status: int
    many: bool
    paginated: bool
    idempotent: bool
    idempotency_required: bool
    errors: tuple[int, ...] = field(default=())
    #: The token scope the operation needs (None: public, no token needed).
    scope: str | None = None
    #: Needs a fresh second factor (the ``X-Second-Factor`` header), as the pages do.
    step_up: bool = False


REGISTRY: list[EndpointSpec] = []


def _json_response(payload: Any, status: int) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


@functools.cache
def _schema(schema_cls: type[Schema], many: bool = False) -> Schema:
    """One instance per schema class for the process. Building an instance deep-copies every
    declared field (and its nested schemas' on first use): about a third of a small answer's
    serialisation, paid on every request before. An instance keeps no state between loads and
    dumps (no schema here stores anything on ``self`` or uses a context), so one serves all."""
    return schema_cls(many=many)


def _load(schema_cls: type[Schema], data: Any, where: str) -> Any:
    try:
        return _schema(schema_cls).load(data)
    except ValidationError as exc:
        raise ApiProblem(
            422,
            "validation_failed",
            "The input is not valid",
            f"the {where} has invalid fields",
            errors=exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages},
        ) from None


def _read_json_body() -> Any:
    if not request.is_json:
        raise ApiProblem(
            415, "unsupported_media_type", "Send JSON", "the body must be application/json"
        )
    data = request.get_json(silent=True)
    if data is None:
        raise ApiProblem(400, "malformed_json", "Malformed JSON", "the body is not valid JSON")
    return data


def _authorise(roles: frozenset[Role] | None) -> None:
    user = load_token_user()
    if roles is None:
        return
    if user is None:
        raise ApiProblem(
            401,
            "unauthenticated",
            "Authentication required",
            "send a personal API token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    if user.role not in roles:
        raise ApiProblem(403, "forbidden", "Not allowed", "your role may not use this endpoint")


def _check_scope(needed: str) -> None:
    token = current_api_token()
    if token is not None and not grants(token.scopes, needed):
        raise ApiProblem(
            403,
            "insufficient_scope",
            "Token scope too narrow",
            f"this operation needs a token with the scope '{needed}'",
            headers={
                "WWW-Authenticate": f'Bearer realm="api", error="insufficient_scope", '
                f'scope="{needed}"'
            },
        )


def _step_up_refused(detail: str) -> ApiProblem:
    return ApiProblem(403, "step_up_required", "Second factor required", detail)


def _check_step_up(user: User) -> None:
    """The operation moves money or reveals personal data: the request carries a current code
    of the caller's authenticator (or a recovery code), accepted once like every code (a
    replayed one is refused) and counted with sign-in failures when wrong."""
    if not user.has_second_factor:
        raise _step_up_refused(
            "this operation needs a second factor: set up two-step verification first"
        )
    code = request.headers.get(STEP_UP_HEADER, "").strip()
    if not code:
        raise _step_up_refused(
            f"this operation needs a fresh second factor: send your current code in the "
            f"'{STEP_UP_HEADER}' header"
        )
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    wait = throttle.wait_seconds(user.email)
    if wait:
        raise ApiProblem(
            429,
            "too_many_attempts",
            "Too many failed attempts",
            f"too many wrong codes for this account: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    try:
        second_factor.verify(db_session(), user, code)
    except InvalidSecondFactor:
        count_failure(throttle, user.email)
        raise _step_up_refused(
            f"the code in '{STEP_UP_HEADER}' is wrong or was already used"
        ) from None


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    description: str = "",
    tags: Iterable[str] = (),
    roles: Iterable[Role] | None = ANY_ROLE,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    many: bool = False,
    paginated: bool = False,
    idempotent: bool | None = None,
    idempotency_required: bool = False,
    errors: Iterable[int] = (),
    scope: str | None = None,
    step_up: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a JSON endpoint on ``bp``.

    The view receives path arguments plus ``query=`` and/or ``body=`` (the loaded data) when
    schemas are declared, and returns the object to serialise with ``response`` (a ``Page``
    when ``paginated``), optionally as ``(obj, status)``, or ``None`` for 204.

    Every operation with roles needs a token scope: by default its module's area
    (``marketplace/api/scopes.py``) at ``read`` for GET and ``write`` otherwise; ``scope``
    names another. ``step_up`` operations also need the caller's current second-factor code
    in the ``X-Second-Factor`` header.
    """
    method = method.upper()
    role_set = frozenset(roles) if roles is not None else None
    is_idempotent = idempotent if idempotent is not None else method == "POST"

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        needed = required_scope(view.__module__, method, scope) if role_set is not None else None
        spec = EndpointSpec(
            rule=(bp.url_prefix or "") + rule,
            method=method,
            endpoint=f"{bp.name}.{view.__name__}",
            summary=summary,
            description=description or (view.__doc__ or "").strip(),
            tags=tuple(tags),
            roles=role_set,
            query=query,
            body=body,
            response=response,
            status=status,
            many=many,
            paginated=paginated,
            idempotent=is_idempotent,
            idempotency_required=idempotency_required,
            errors=tuple(errors),
            scope=needed,
            step_up=step_up,
        )
        REGISTRY.append(spec)

        @functools.wraps(view)
        def wrapper(**path_args: Any) -> Response:
            _authorise(role_set)
            if needed is not None:
                _check_scope(needed)
            if step_up:
                _check_step_up(api_user())
            if any(isinstance(v, int) and v > MAX_ID for v in path_args.values()):
                raise ApiProblem(404, "not_found", "Not found", "no such record")
            kwargs: dict[str, Any] = dict(path_args)
            if query is not None:
                kwargs["query"] = _load(query, request.args.to_dict(), "query string")
            elif request.args:
                # Unknown fields are refused everywhere, the query string included.
                raise ApiProblem(
                    422,
                    "validation_failed",
                    "The input is not valid",
                    "this endpoint takes no query parameters",
                    errors={k: ["Unknown field."] for k in request.args},
                )
            raw_body: Any = None
            if body is not None:
                raw_body = _read_json_body()
                kwargs["body"] = _load(body, raw_body, "body")

            record = None
            key = request.headers.get("Idempotency-Key")
            if is_idempotent and key is not None:
                user = current_api_user()
                claimed = idempotency.begin(
                    db_session(),
                    scope=f"user:{user.id}" if user else "anonymous",
                    key=key,
                    method=method,
                    path=request.path,
                    request_hash=idempotency.fingerprint(method, request.path, raw_body),
                )
                if isinstance(claimed, Response):
                    return claimed
                record = claimed
            elif is_idempotent and idempotency_required:
                raise ApiProblem(
                    428,
                    "idempotency_key_required",
                    "Idempotency-Key required",
                    "this request moves money: send an Idempotency-Key header",
                )

            result = view(**kwargs)
            out_status = status
            if isinstance(result, tuple):
                result, out_status = result
            if result is None and response is None:
                resp = Response(status=204)
            else:
                resp = _json_response(_dump(result), out_status)
            if record is not None:
                idempotency.complete(db_session(), record, resp)
            return resp

        def _dump(result: Any) -> Any:
            if response is None:
                return result
            if paginated:
                assert isinstance(result, Page)
                return _schema(page_schema(response)).dump(result.as_dict())
            return _schema(response, many).dump(result)

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method])
        return wrapper

    return decorator


def api_user() -> Any:
    """The authenticated caller; only valid inside endpoints that declare roles."""
    user = current_api_user()
    if user is None:  # pragma: no cover - guarded by the decorator
        raise ApiProblem(401, "unauthenticated", "Authentication required")
    return user


def expected_version(body: dict[str, Any] | None = None) -> int | None:
    """The version the caller read: ``If-Match: "3"`` (or ``3``) or the body's ``version``;
    they must agree when both are sent. None: no check asked for."""
    header = request.headers.get("If-Match")
    from_header: int | None = None
    if header is not None:
        from_header = ascii_int(header.strip().removeprefix("W/").strip('"'))
        if from_header is None:
            raise ApiProblem(
                400, "invalid_if_match", "Invalid If-Match", "If-Match must be a version number"
            )
    from_body = (body or {}).get("version")
    if from_header is not None and from_body is not None and from_header != from_body:
        raise ApiProblem(
            400, "invalid_if_match", "Invalid If-Match", "If-Match and version disagree"
        )
    return from_header if from_header is not None else from_body
