"""The JSON API under /api/v1: token auth, problem+json errors, Idempotency-Key, OpenAPI."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask, current_app

from marketplace.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
# Declared once per process: a limit declared in register_api would be added again for every
# app built (one per test), and each copy would count every request again.
limiter.limit(lambda: current_app.config["RATE_LIMIT_DEFAULT"])(bp)

#: Modules that declare endpoints on ``bp``; imported once, when the app registers the API.
ROUTE_MODULES = (
    "marketplace.api.meta",
    "marketplace.api.accounts",
    "marketplace.api.audit",
    "marketplace.api.disclosure",
    "marketplace.api.payments",
    "marketplace.api.orders",
    "marketplace.api.providers",
    "marketplace.api.settlement",
    "marketplace.api.vouchers",
    "marketplace.api.enterprises",
    "marketplace.api.programmes",
)


def register_api(app: Flask) -> None:
    for module in ROUTE_MODULES:
        importlib.import_module(module)
    app.register_blueprint(bp)
