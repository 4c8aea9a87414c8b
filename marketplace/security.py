"""HTTP security headers on every response.

The pages use no inline script and load nothing from other hosts, so a strict Content Security
Policy costs nothing and stops injected markup from running. Swagger UI (the API docs) sets
inline styles, so its page alone allows them. The one exception to "nothing from other hosts"
is the card payment form, shown only when the Stripe gateway is configured: Stripe requires
Stripe.js to be loaded from js.stripe.com (card data must never touch our pages), so that
response alone widens the policy to Stripe's documented hosts (``card_payment_csp``).
"""

from __future__ import annotations

from flask import Flask, Response, request, session

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
DOCS_CSP = STRICT_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
STRIPE_JS_URL = "https://js.stripe.com/v3/"


def card_payment_csp() -> str:
    """The strict policy plus what Stripe.js needs (Stripe's CSP guidance)."""
    return (
        STRICT_CSP.replace("script-src 'self'", "script-src 'self' https://js.stripe.com")
        .replace("connect-src 'self'", "connect-src 'self' https://api.stripe.com")
        .replace(
            "frame-ancestors 'none'",
            "frame-src https://js.stripe.com https://hooks.stripe.com; frame-ancestors 'none'",
        )
    )


def init_app(app: Flask) -> None:
    hsts = app.config["SETTINGS"].is_production

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", DOCS_CSP if request.endpoint == "api.docs" else STRICT_CSP
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        signed_in = "_user_id" in session or "Authorization" in request.headers
        if signed_in and "no-store" not in headers.get("Cache-Control", ""):
            # Signed-in pages and every answer to a token carry personal data: no browser,
            # proxy or shared-computer back button may keep a copy.
            headers["Cache-Control"] = "no-store"
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
