"""Role gates for blueprints and views, and the object-level ownership check.

Every HTML route is gated: anonymous users go to the login page, signed-in users with the
wrong role get 403. Object-level checks (an SME sees only its own records) use
:func:`ensure_owns`; a record of another organisation answers 404, so ids do not leak.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, request, session, url_for
from flask_login import current_user

from marketplace.auth import sessions
from marketplace.db import utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.i18n import _

F = TypeVar("F", bound=Callable[..., Any])


def _check(roles: frozenset[Role]) -> Any:
    from marketplace.extensions import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in roles:
        abort(403)
    return None


def roles_required(*roles: Role) -> Callable[[F], F]:
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            denied = _check(allowed)
            if denied is not None:
                return denied
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def gate_blueprint(bp: Blueprint, *roles: Role, read_only: frozenset[Role] = frozenset()) -> None:
    """Every route of ``bp`` requires one of ``roles``; ``read_only`` roles may only GET."""
    allowed = frozenset(roles)

    @bp.before_request
    def _gate() -> Any:
        denied = _check(allowed)
        if denied is not None:
            return denied
        if current_user.role in read_only and request.method not in {"GET", "HEAD", "OPTIONS"}:
            abort(403)
        return None


def gate_admin(bp: Blueprint) -> None:
    gate_blueprint(bp, *ADMIN_ROLES, read_only=frozenset({Role.AUDITOR}))


def ensure_owns(record_owner_id: int | None, owner_id: int | None) -> None:
    """404 unless the record belongs to the caller's organisation."""
    if record_owner_id is None or owner_id is None or record_owner_id != owner_id:
        abort(404)


# --------------------------------------------------------------------------- second factor

#: How recent the second factor must be for the actions that move money or reveal data.
STEP_UP_WINDOW = timedelta(minutes=5)
#: What an administrator without a second factor may still reach: enrolment itself, signing
#: out, the language switch's static files and the liveness probe.
ENROLMENT_EXEMPT = frozenset(
    {"auth.second_factor", "auth.logout", "static", "ops.healthz", "ops.readyz"}
)


def init_second_factor_gate(app: Flask) -> None:
    """Administrative roles must enrol a second factor before anything else."""

    @app.before_request
    def _require_enrolment() -> Any:
        if request.endpoint in ENROLMENT_EXEMPT or request.blueprint in NO_SESSION_BLUEPRINTS:
            return None
        user = current_user
        if user.is_authenticated and user.is_admin and not user.has_second_factor:
            return redirect(url_for("auth.second_factor"))
        return None


#: Blueprints that never use the browser session (the JSON API, the gateway's webhook).
NO_SESSION_BLUEPRINTS = frozenset({"api", "payments", "ops"})


def second_factor_is_fresh() -> bool:
    return sessions.second_factor_is_fresh(session, utcnow(), STEP_UP_WINDOW)


def fresh_second_factor(view: F) -> F:
    """The action needs a second factor entered within the last five minutes; otherwise the
    person confirms one first and comes back (a POST is not replayed: they submit again)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if second_factor_is_fresh():
            return view(*args, **kwargs)
        back = request.path if request.method == "GET" else _same_site_referrer()
        flash(_("Confirm it is you with your second factor, then try again."), "warning")
        return redirect(url_for("auth.confirm_second_factor", next=back))

    return wrapper  # type: ignore[return-value]


def _same_site_referrer() -> str | None:
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
