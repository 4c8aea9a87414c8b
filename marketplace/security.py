"""HTTP security headers on every response.

The pages use no inline script and load nothing from other hosts, so a strict Content Security
Policy costs nothing and stops injected markup from running. Swagger UI (the API docs) sets
inline styles, so its page alone allows them. The one exception to "nothing from other hosts"
is the card payment form, shown only when the Stripe gateway is configured: Stripe requires
Stripe.js to be loaded from js.stripe.com (card data must never touch our pages), so that
response alone widens the policy to Stripe's documented hosts (``card_payment_csp``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

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


class LeanSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus two costs paid on every request: the signing
    serializer is built once per set of keys (Flask builds a new one per request, about a
    tenth of the cheapest request's time), and a request without a session cookie (API calls,
    first visits) gets an empty session without one. Cookies, signatures and key rotation
    (SECRET_KEY_FALLBACKS) are exactly Flask's."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple[Any, ...], Any] | None = None

    def get_signing_serializer(self, app: Flask) -> Any:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializer
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._serializer = (keys, serializer)
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    fixed = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if app.config["SETTINGS"].is_production:
        fixed.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    app.session_interface = LeanSessionInterface()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # Each header only where the view did not set its own (the card payment's CSP). One
        # pass over the few headers there are: a missing key looked up in werkzeug's Headers
        # raises and catches an exception, six of them per request with setdefault.
        present = {name.lower() for name, _value in headers.items()}
        if "content-security-policy" not in present:
            csp = DOCS_CSP if request.endpoint == "api.docs" else STRICT_CSP
            headers.add("Content-Security-Policy", csp)
        for name, value in fixed:
            if name.lower() not in present:
                headers.add(name, value)
        # The environ, not request.headers: ``in`` on werkzeug's headers raises and catches a
        # KeyError for a missing header, as ``get`` does (so Cache-Control is read only when
        # the response has one).
        signed_in = "_user_id" in session or "HTTP_AUTHORIZATION" in request.environ
        cache_control = headers.get("Cache-Control", "") if "cache-control" in present else ""
        if signed_in and "no-store" not in cache_control:
            # Signed-in pages and every answer to a token carry personal data: no browser,
            # proxy or shared-computer back button may keep a copy.
            headers["Cache-Control"] = "no-store"
        return response
