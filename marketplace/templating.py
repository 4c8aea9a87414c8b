"""Template globals and filters: money, enum labels, the language switch, role navigation."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from marketplace.enums import LabelledEnum, Role
from marketplace.i18n import _
from marketplace.money import format_fen


def enum_label(value: Any) -> str:
    """Chinese label first; English beside it when the page is in English."""
    if not isinstance(value, LabelledEnum):
        return str(value)
    return value.en if str(get_locale()) == "en" else value.zh


def lang_url(lang: str) -> str:
    """The current page in another language (other query arguments kept)."""
    values: dict[str, Any] = {**(request.view_args or {}), **request.args, "lang": lang}
    return url_for(request.endpoint or "public.home", **values)


def navigation() -> list[tuple[str, str]]:
    """(label, url) for the signed-in user's role."""
    if not current_user.is_authenticated:
        return []
    items = [(_("My account"), url_for("auth.account"))]
    if current_user.role in {Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN}:
        items.insert(0, (_("Administration"), url_for("admin.home")))
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.filters["fen"] = format_fen
    app.jinja_env.filters["label"] = enum_label
    app.jinja_env.globals.update(lang_url=lang_url, navigation=navigation, get_locale=get_locale)
