"""The JSON API under /api/v1: token auth, problem+json errors, Idempotency-Key, OpenAPI."""

from __future__ import annotations

from flask import Blueprint, Flask

from marketplace.extensions import csrf
from marketplace.ratelimit import limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
# One window per client address for the whole API, of the configured size.
limiter.limit_blueprint(bp, "RATE_LIMIT_DEFAULT")


def register_api(app: Flask) -> None:
    """Register the API blueprint with every endpoint.

    Importing a module declares its endpoints on ``bp``; this is the one place every endpoint
    module is imported.
    """
    from marketplace.api import (  # noqa: F401 - endpoints on bp
        accounts,
        audit,
        catalogue,
        dashboard,
        disclosure,
        disputes,
        enterprises,
        freezes,
        funders,
        instruments,
        meta,
        orders,
        outcomes,
        payments,
        personal_data,
        programmes,
        provider_admin,
        provider_listings,
        provider_portal,
        provider_reviews,
        risk,
        settlement,
        vouchers,
    )

    app.register_blueprint(bp)
