"""Template globals and filters: money, enum labels, the language switch, role navigation."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from marketplace.clock import beijing_text
from marketplace.enums import LabelledEnum, Role
from marketplace.i18n import _
from marketplace.money import format_fen


def enum_label(value: Any) -> str:
    """Chinese label first; English beside it when the page is in English."""
    if not isinstance(value, LabelledEnum):
        return str(value)
    return value.en if str(get_locale()) == "en" else value.zh


def page_lang() -> str:
    """The page's language as the read models and exports take it: "zh" or "en"."""
    return "en" if str(get_locale()) == "en" else "zh"


def lang_url(lang: str) -> str:
    """The current page in another language (other query arguments kept)."""
    values: dict[str, Any] = {**(request.view_args or {}), **request.args, "lang": lang}
    return url_for(request.endpoint or "public.home", **values)


def navigation() -> list[tuple[str, str]]:
    """(label, url) for the signed-in user's role."""
    catalogue = (_("Find services"), url_for("catalogue.search"))
    if not current_user.is_authenticated:
        return [catalogue]
    items = [catalogue, (_("My account"), url_for("auth.account"))]
    if current_user.role is Role.PROVIDER:
        items.insert(1, (_("Provider portal"), url_for("provider.dashboard")))
    if current_user.role is Role.ENTERPRISE:
        items.insert(1, (_("My vouchers"), url_for("enterprise.wallet")))
    if current_user.role in {Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN}:
        items.insert(1, (_("Voucher administration"), url_for("admin.voucher_programmes")))
    if current_user.role in {Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN}:
        items.insert(0, (_("Administration"), url_for("admin.home")))
    if current_user.role in {Role.FINANCE, Role.AUDITOR}:
        items.insert(1, (_("Payment records"), url_for("admin.payments")))
    if current_user.role is Role.REVIEWER:
        items.insert(1, (_("Dispute queue"), url_for("orders.dispute_queue")))
    items.insert(-1, (_("Orders"), url_for("orders.index")))
    if current_user.role is Role.PROVIDER:
        items.insert(-1, (_("Settlement claims"), url_for("settlement.claims_list")))
    if current_user.role in {Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN}:
        items.insert(-1, (_("Settlement claims"), url_for("admin.settlement_claims")))
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.filters["fen"] = format_fen
    app.jinja_env.filters["label"] = enum_label
    app.jinja_env.filters["beijing"] = beijing_text
    app.jinja_env.globals.update(lang_url=lang_url, navigation=navigation, get_locale=get_locale)
