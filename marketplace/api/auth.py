"""Token authentication for the API. Session cookies are never accepted here, so CSRF does not
apply to API calls and a browser session cannot be ridden by a cross-site request."""

from __future__ import annotations

from flask import g, request

from marketplace.auth.models import ApiToken, User
from marketplace.auth.services import token_for_plain
from marketplace.db import db_session
from marketplace.problems import ApiProblem


def load_token_user() -> User | None:
    """Authenticate the ``Authorization: Bearer`` header once per request."""
    if "api_user" in g:
        user: User | None = g.api_user
        return user
    header = request.headers.get("Authorization", "")
    user = None
    token_row: ApiToken | None = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(
                401,
                "unauthenticated",
                "Authentication required",
                "use 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        token_row = token_for_plain(db_session(), token.strip())
        if token_row is None:
            raise ApiProblem(
                401,
                "invalid_token",
                "Invalid token",
                "the token is unknown, expired or revoked",
                headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
            )
        user = token_row.user
    g.api_user = user
    g.api_token = token_row
    return user


def current_api_token() -> ApiToken | None:
    """The token that authenticated this request (after ``load_token_user``)."""
    token: ApiToken | None = g.get("api_token")
    return token


def current_api_user() -> User | None:
    user: User | None = g.get("api_user")
    return user
