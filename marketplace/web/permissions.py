"""Role gates for blueprints and views, and the object-level ownership check.

Every HTML route is gated: anonymous users go to the login page, signed-in users with the
wrong role get 403. Object-level checks (an SME sees only its own records) use
:func:`ensure_owns`; a record of another organisation answers 404, so ids do not leak.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, request
from flask_login import current_user

from marketplace.enums import ADMIN_ROLES, Role

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
