"""The Flask application shell of the innovation voucher marketplace."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace.config import PROJECT_ROOT, ConfigError, Environment, Settings

#: One message catalogue per package that owns user-facing text; Flask-Babel merges them.
TRANSLATION_DIRECTORIES = tuple(
    PROJECT_ROOT / package / "translations" for package in ("marketplace", "vouchers", "providers")
)


class MarketplaceApp(Flask):
    """Flask, answering "is this hook a coroutine function?" once per function.

    Flask asks ``inspect.iscoroutinefunction`` of every view and every before-, after- and
    teardown-request function on every request (about twenty here), and the answer never
    changes; ``ensure_sync`` is the documented place to change how Flask calls them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        ready = self._callables.get(func)
        if ready is None:
            ready = self._callables[func] = super().ensure_sync(func)
        return ready


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` overrides environment variables by name (``{"DATABASE_URL": ...}``); tests use it.
    Settings are validated here, so a bad environment stops start-up with one clear line.
    """
    environ: dict[str, str] = dict(os.environ)
    overrides = dict(config or {})
    environ.update({k: str(v) for k, v in overrides.items() if isinstance(v, str | int | bool)})
    try:
        settings = Settings.from_env(environ)
    except ConfigError as exc:
        # One readable line instead of a traceback, for flask, gunicorn and the demo alike.
        raise SystemExit(f"configuration error: {exc}") from None

    app = MarketplaceApp(
        __name__, instance_path=str(settings.instance_dir), instance_relative_config=False
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env is Environment.TESTING,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only
        # and for path "/", so a sibling subdomain cannot plant or overwrite it.
        SESSION_COOKIE_NAME="__Host-session" if settings.is_production else "session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        REMEMBER_COOKIE_SECURE=settings.is_production,
        # A form's CSRF token lives no longer than a session may (and the session's own secret
        # is replaced at every sign-in and sign-out, which voids older tokens at once).
        WTF_CSRF_TIME_LIMIT=settings.session_max_hours * 3600,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_TRANSLATION_DIRECTORIES=";".join(str(d) for d in TRANSLATION_DIRECTORIES),
        RATE_LIMIT_DEFAULT=settings.rate_limit_default,
        # Redis down: limits go on per process, in memory, instead of failing the request or
        # letting everything through (marketplace/ratelimit.py, README "Faults"). Sessions are
        # signed cookies, not Redis, so signing in does not depend on it.
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_ENABLED=settings.env is not Environment.TESTING,
        JSON_SORT_KEYS=False,
    )
    # Flask-level keys (e.g. WTF_CSRF_ENABLED, RATELIMIT_ENABLED) pass straight through.
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})
    # Flask checks session cookies against these too (SECRET_KEY rotation); always the parsed
    # list, whatever form the variable was given in.
    app.config["SECRET_KEY_FALLBACKS"] = list(settings.secret_key_fallbacks)

    # Every table and relationship is known before the first request, command or job.
    import marketplace.models  # noqa: F401

    if settings.trusted_proxies:
        # Behind N proxies the client is the N-th address from the right of X-Forwarded-For;
        # every limit (per address, per account) then keys on the real client, not the proxy.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
        )
    _init_extensions(app, settings)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _init_extensions(app: Flask, settings: Settings) -> None:
    from marketplace import error_handlers, observability, security
    from marketplace.auth.passwords import use_fast_hashing_for_tests
    from marketplace.auth.throttle import LoginThrottle
    from marketplace.db import Database
    from marketplace.extensions import babel, csrf, login_manager, select_locale
    from marketplace.ratelimit import limiter

    if settings.env is Environment.TESTING:
        use_fast_hashing_for_tests()
    if settings.env is not Environment.TESTING:
        # Tests read records through pytest's capture, and format JSON where they check it.
        observability.configure_logging(settings.log_format.value, settings.log_level)
    # Before the database: its request line then times the commit too, and the id exists
    # from the first hook on.
    observability.init_app(app)
    # Before the database too: a request whose commit fails is answered by a 503 made in the
    # database's hook, and that answer must still carry the security headers.
    security.init_app(app)
    db = Database()
    db.init_app(
        app,
        settings.database_url,
        echo=settings.sql_echo,
        replica_url=settings.database_replica_url,
    )
    observability.init_user_capture(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    app.extensions["login_throttle"] = LoginThrottle(app.config["RATELIMIT_STORAGE_URI"])
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def _load_user(user_id: str) -> Any:
        from flask import session

        from marketplace.auth import sessions
        from marketplace.auth.models import User
        from marketplace.db import get_db, utcnow
        from marketplace.parsing import ascii_int

        number = ascii_int(user_id)
        user = get_db().session.get(User, number) if number is not None else None
        now = utcnow()
        if (
            user is None
            or not user.is_active
            or sessions.why_ended(session, user, now, settings) is not None
        ):
            # A revoked, expired or idle session is forgotten, not merely ignored, so the
            # browser stops sending it.
            sessions.clear(session)
            return None
        sessions.touch(session, now)
        return user

    error_handlers.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from marketplace.api import register_api
    from marketplace.ops import health
    from marketplace.web import register_pages

    register_pages(app)
    register_api(app)
    health.init_app(app)


def _register_cli(app: Flask) -> None:
    from marketplace.cli import register_cli

    register_cli(app)
