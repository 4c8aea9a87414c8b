"""Error handling for the whole app: problem+json under /api/, friendly pages elsewhere.

No handler ever shows a traceback or a database message; unexpected errors are logged with
the request id and answered with a generic 500.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from marketplace.errors import DomainError, ValidationFailed
from marketplace.problems import ApiProblem, problem

log = logging.getLogger(__name__)


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, title: str, detail: str) -> ResponseReturnValue:
    return render_template("errors/error.html", status=status, title=title, detail=detail), status


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
        return _page(exc.status, exc.title, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return _page(
            400,
            "表单已过期 Form expired",
            "请返回上一页刷新后重试。Please go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if _wants_problem():
            code = (exc.name or "error").lower().replace(" ", "_")
            response = problem(status, code, exc.name or "Error", exc.description)
            if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
                response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
            if status == 429:
                # Keep Retry-After (the limiter also sets it after the request), but not the
                # exception's own Content-Type, which would turn the problem+json into HTML.
                response.headers.update(
                    {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
                )
            return response
        return _page(status, exc.name or "Error", exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error, incident %s", incident)
        if _wants_problem():
            return problem(
                500,
                "internal_error",
                "Internal error",
                f"something went wrong on our side (incident {incident})",
            )
        return _page(500, "系统错误 Internal error", f"incident {incident}")
