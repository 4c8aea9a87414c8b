"""Browser sessions that end: what a signed session cookie must carry to stay valid.

The cookie is signed (Flask), so its content cannot be forged, but a copied cookie would stay
valid for ever. Three server-side facts end it:

* the account's ``session_generation`` — bumped by sign-out, password change, second-factor
  reset, role change and suspension — must equal the one the session was opened with, so one
  bump ends every session of the account, on every device, at once;
* the absolute lifetime (``SESSION_MAX_HOURS``, 12 h) counted from sign-in;
* the idle limit (``SESSION_IDLE_MINUTES_ADMIN``, 30 min, for administrative roles;
  ``SESSION_IDLE_MINUTES`` for the others), counted from the last request.

These functions work on the session mapping only (no Flask import), so they are tested alone.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime, timedelta
from typing import Any

from marketplace.auth.models import User
from marketplace.config import Settings

GENERATION = "_gen"
SIGNED_IN_AT = "_auth_at"
LAST_SEEN = "_seen"
SECOND_FACTOR_AT = "_2fa_at"
#: Keys that survive the end of a session: only the chosen language.
KEPT_ON_CLEAR = ("lang",)
#: The last-seen stamp is rewritten at most this often, so most responses do not need to
#: re-send the cookie; the idle limit is therefore exact to this resolution.
SEEN_RESOLUTION = timedelta(seconds=60)


def _stamp(now: datetime) -> int:
    return int(now.timestamp())


def clear(store: MutableMapping[str, Any]) -> None:
    """Forget everything but the language (new sign-in, sign-out, refused session)."""
    kept = {key: store[key] for key in KEPT_ON_CLEAR if key in store}
    store.clear()
    store.update(kept)


def open_session(
    store: MutableMapping[str, Any], user: User, now: datetime, *, second_factor: bool
) -> None:
    """Stamp a freshly signed-in session (call after clearing it)."""
    store[GENERATION] = user.session_generation
    store[SIGNED_IN_AT] = _stamp(now)
    store[LAST_SEEN] = _stamp(now)
    if second_factor:
        store[SECOND_FACTOR_AT] = _stamp(now)


def follow_generation(store: MutableMapping[str, Any], user: User) -> None:
    """Keep this session alive after its own account bumped the generation (password change,
    "sign out everywhere else")."""
    store[GENERATION] = user.session_generation


def idle_limit(user: User, settings: Settings) -> timedelta:
    minutes = (
        settings.session_idle_minutes_admin if user.is_admin else settings.session_idle_minutes
    )
    return timedelta(minutes=minutes)


def why_ended(
    store: MutableMapping[str, Any], user: User, now: datetime, settings: Settings
) -> str | None:
    """Why this session may no longer act for ``user`` (None: it may)."""
    generation = store.get(GENERATION)
    signed_in = store.get(SIGNED_IN_AT)
    seen = store.get(LAST_SEEN)
    if not isinstance(generation, int) or generation != user.session_generation:
        return "revoked"
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        return "revoked"
    stamp = _stamp(now)
    if stamp - signed_in > settings.session_max_hours * 3600:
        return "expired"
    if stamp - seen > idle_limit(user, settings).total_seconds():
        return "idle"
    return None


def touch(store: MutableMapping[str, Any], now: datetime) -> None:
    seen = store.get(LAST_SEEN)
    if not isinstance(seen, int) or _stamp(now) - seen >= SEEN_RESOLUTION.total_seconds():
        store[LAST_SEEN] = _stamp(now)


def second_factor_is_fresh(
    store: MutableMapping[str, Any], now: datetime, window: timedelta
) -> bool:
    at = store.get(SECOND_FACTOR_AT)
    return isinstance(at, int) and 0 <= _stamp(now) - at <= window.total_seconds()


def mark_second_factor(store: MutableMapping[str, Any], now: datetime) -> None:
    store[SECOND_FACTOR_AT] = _stamp(now)
