"""The ``payments`` blueprint: gateway webhooks (no session, no CSRF, signature instead)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.errors import DomainError
from marketplace.extensions import csrf
from marketplace.payments.webhooks import process_webhook
from marketplace.problems import problem

bp = Blueprint("payments", __name__, url_prefix="/payments")
# Stripe cannot send our CSRF token; the signature authenticates the request instead.
csrf.exempt(bp)


@bp.post("/webhooks/stripe")
def stripe_webhook() -> ResponseReturnValue:
    """Receive a Stripe event. 200 once verified (applied, ignored or a replay); 400
    problem+json for a forged, stale or malformed delivery, with nothing changed."""
    settings = current_settings()
    if not (settings.stripe_secret_key and settings.stripe_webhook_secret):
        return problem(404, "not_found", "Not found", "Stripe is not configured here")
    try:
        result = process_webhook(
            db_session(), request.get_data(cache=False), request.headers.get("Stripe-Signature")
        )
    except DomainError as exc:
        return problem(exc.status, exc.code, exc.title, exc.message)
    response: Response = jsonify(
        received=True,
        event_id=result.event_id,
        duplicate=result.duplicate,
        outcome=result.outcome.value if result.outcome else None,
    )
    return response
