"""Flask extensions, created unbound and initialised by ``create_app`` (init_app style)."""

from __future__ import annotations

from flask import Request, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

SUPPORTED_LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def select_locale() -> str:
    """Chinese first: an explicit choice (``?lang=`` stored in the session) wins, then the
    browser's preference between our two languages, then Chinese."""
    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LOCALES:
        session["lang"] = chosen
        return chosen
    stored = session.get("lang")
    if stored in SUPPORTED_LOCALES:
        return str(stored)
    return _best_from_header(request) or DEFAULT_LOCALE


def _best_from_header(req: Request) -> str | None:
    best = req.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is None:
        return None
    return "zh" if best.startswith("zh") else "en"
