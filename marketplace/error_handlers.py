"""Error handling for the whole app: problem+json under /api/, friendly pages elsewhere.

No handler ever shows a traceback or a database message; unexpected errors are logged with
the request id and answered with a generic 500.

A database that cannot be reached (restarting, failing over, out of connections) is not a bug:
the request's transaction was rolled back whole, so the caller is told to try again — 503 with
``Retry-After`` (problem+json under /api/) — and the pool reconnects by itself
(``pool_pre_ping``). A money-moving call retried with the same Idempotency-Key then has its
effect exactly once, even when the first attempt committed just before the connection died.
"""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from marketplace.db import database_unavailable
from marketplace.errors import DomainError, ValidationFailed
from marketplace.i18n import _, one_language
from marketplace.problems import ApiProblem, problem

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def _unavailable(exc: BaseException) -> ResponseReturnValue:
    # Logged without the message: it can quote the statement (parameters are hidden anyway).
    log.warning(
        "database unavailable (%s); answered 503",
        type(exc).__name__,
        extra={"fields": {"event": "database_unavailable", "error": type(exc).__name__}},
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_problem():
        return problem(
            503,
            "service_unavailable",
            "Service temporarily unavailable",
            "数据库暂时不可用，未作任何更改，请稍后重试 / the database is briefly unavailable; "
            "nothing was changed, please retry",
            headers=headers,
        )
    # A bare page: the site's layout would load the signed-in user, from the database that is
    # down. The locale comes from the session cookie, so the page is in one language.
    title, detail = (
        _("Service temporarily unavailable"),
        _("Nothing was changed. Please try again in a few seconds."),
    )
    page = (
        f'<!doctype html><html lang="{get_locale() or "zh"}"><meta charset="utf-8">'
        f"<title>503 {escape(title)}</title><h1>503 · {escape(title)}</h1>"
        f"<p>{escape(detail)}</p></html>"
    )
    return page, 503, headers


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


def _titles() -> dict[int, tuple[str, str]]:
    """(title, what to do) per status, in the page's language; werkzeug's are English."""
    return {
        400: (
            _("Bad request"),
            _("The request could not be understood. Please go back and try again."),
        ),
        401: (_("Please sign in"), _("Sign in to see this page.")),
        403: (_("Not allowed"), _("Your account may not see or do this.")),
        404: (
            _("Page not found"),
            _("The address may be mistyped, or the record no longer exists."),
        ),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        409: (
            _("Conflicts with the current state"),
            _("The record changed; reload it and try again."),
        ),
        413: (_("File too large"), _("The file is larger than the platform accepts.")),
        422: (_("The input is not valid"), _("Please correct the input and try again.")),
        429: (_("Too many requests"), _("Please wait a moment and try again.")),
        500: (_("Something went wrong"), _("The error was logged; please try again later.")),
    }


def _page(status: int, title: str | None = None, detail: str | None = None) -> ResponseReturnValue:
    """An error page in the page's language: the status's own title, and the domain error's
    message (its side in this language) when there is one."""
    known_title, advice = _titles().get(status, (_("Something went wrong"), ""))
    page = render_template(
        "errors/error.html",
        status=status,
        title=title or known_title,
        detail=one_language(detail) if detail else advice,
    )
    return page, status


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def _api_problem(exc: ApiProblem) -> Response:
        return exc.to_response()

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> ResponseReturnValue:
        if _wants_problem():
            errors = exc.errors if isinstance(exc, ValidationFailed) else None
            if errors is None and exc.field:
                errors = {exc.field: [exc.message]}
            return problem(
                exc.status, exc.code, exc.title, exc.message, errors=errors, extensions=exc.extra
            )
        return _page(exc.status, None, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return _page(400, _("Form expired"), _("Please go back, reload the page and try again."))

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    @app.errorhandler(sa.exc.TimeoutError)
    def _database_down(exc: Exception) -> ResponseReturnValue:
        return _unavailable(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        if isinstance(exc, InternalServerError) and database_unavailable(exc.original_exception):
            # Raised outside the view and its hooks (a teardown): Flask wraps it in a 500.
            return _unavailable(exc.original_exception)  # type: ignore[arg-type]
        status = exc.code or 500
        if _wants_problem():
            code = (exc.name or "error").lower().replace(" ", "_")
            response = problem(status, code, exc.name or "Error", exc.description)
            if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
                response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
            if status == 429:
                # Keep a Retry-After given to the exception (the rate limiter sets its own after
                # the request), but not the exception's own Content-Type, which would turn the
                # problem+json into HTML.
                response.headers.update(
                    {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
                )
            return response
        return _page(status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        if database_unavailable(exc):
            return _unavailable(exc)
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error, incident %s", incident)
        if _wants_problem():
            return problem(
                500,
                "internal_error",
                "Internal error",
                f"something went wrong on our side (incident {incident})",
            )
        return _page(500, None, _("The error was logged as incident %(id)s.", id=incident))
