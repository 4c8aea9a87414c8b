"""The JSON API under /api/v1: token auth, problem+json errors, Idempotency-Key, OpenAPI."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Modules that declare endpoints on ``bp``; imported once, when the app registers the API.
ROUTE_MODULES = (
    "marketplace.api.meta",
    "marketplace.api.accounts",
    "marketplace.api.audit",
)


def register_api(app: Flask) -> None:
    from marketplace.extensions import csrf, limiter

    for module in ROUTE_MODULES:
        importlib.import_module(module)
    csrf.exempt(bp)
    limiter.limit(lambda: app.config["RATE_LIMIT_DEFAULT"])(bp)
    app.register_blueprint(bp)
