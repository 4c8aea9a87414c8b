"""Flask extensions, created unbound and initialised by ``create_app`` (init_app style)."""

from __future__ import annotations

from flask import request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

SUPPORTED_LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def select_locale() -> str:
    """Chinese first: pages are Simplified Chinese unless the person chose English
    (``?lang=en``, remembered in the session). The browser's Accept-Language is not consulted:
    the platform's working language is Chinese, and English is offered beside it."""
    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LOCALES:
        session["lang"] = chosen
        return chosen
    stored = session.get("lang")
    return str(stored) if stored in SUPPORTED_LOCALES else DEFAULT_LOCALE
