"""Template globals and filters: money, enum labels, the language switch, role navigation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from marketplace import clock, masking, regions
from marketplace.auth.models import User
from marketplace.db import db_session
from marketplace.enums import LabelledEnum, Role, SizeClass
from marketplace.i18n import _, is_english, one_language
from marketplace.money import format_bps, format_fen
from marketplace.web import inbox, vocabulary


def enum_label(value: Any) -> str:
    """A vocabulary value in the page's language (never the stored code)."""
    if not isinstance(value, LabelledEnum):
        return str(value)
    return value.en if is_english() else value.zh


def beijing_date(moment: datetime | None) -> str:
    """The Beijing calendar day of a stored UTC time (``2026-03-01``)."""
    return clock.beijing_text(moment)[:10]


def size_class_label(value: str) -> str:
    """A stored size-class value (``micro``) as its label in the page's language."""
    try:
        return enum_label(SizeClass(value))
    except ValueError:
        return value


def region_label(code: str | None) -> str:
    """A GB/T 2260 code as its full name (530102 → 云南省昆明市五华区); the names are Chinese
    in both languages, as on the official table."""
    return regions.label(code) if code else ""


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
    items.insert(-1, (_("Instrument bookings"), url_for("instruments.bookings")))
    if current_user.role is Role.PROVIDER:
        items.insert(-1, (_("Settlement claims"), url_for("settlement.claims_list")))
    if current_user.role in {Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN}:
        items.insert(-1, (_("Settlement claims"), url_for("admin.settlement_claims")))
        items.insert(-1, (_("Risk and audit"), url_for("risk.flags")))
    return items


def people(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Who acted, by name rather than id, as the signed-in person may see it: officials see
    everyone's name and role; the parties see the names of their own organisation's people
    and only the role of anyone else (officials and the other party's staff)."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted or not current_user.is_authenticated:
        return {}
    viewer = current_user
    names: dict[int, str] = {}
    for user in db_session().scalars(sa.select(User).where(User.id.in_(wanted))):
        own = (user.enterprise_id is not None and user.enterprise_id == viewer.enterprise_id) or (
            user.provider_id is not None and user.provider_id == viewer.provider_id
        )
        role = enum_label(user.role)
        names[user.id] = (
            _("%(name)s (%(role)s)", name=user.display_name, role=role)
            if viewer.role.is_admin or own
            else role
        )
    return names


def inbox_badge() -> int:
    """Items waiting on the signed-in user (0 when signed out or for read-only roles)."""
    if not current_user.is_authenticated:
        return 0
    return inbox.waiting_total(db_session(), current_user)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["fen"] = format_fen
    app.jinja_env.filters["bps"] = format_bps
    app.jinja_env.filters["masked"] = lambda value, kind: masking.shown(kind, value) or ""
    app.jinja_env.filters["label"] = enum_label
    # Times are stored in UTC and shown in Beijing time; the page says so once, not per cell.
    app.jinja_env.filters["beijing"] = clock.beijing_text
    app.jinja_env.filters["beijing_date"] = beijing_date
    app.jinja_env.filters["region"] = region_label
    app.jinja_env.filters["size_class"] = size_class_label
    app.jinja_env.filters["order_step"] = vocabulary.order_step
    app.jinja_env.filters["audit_action"] = vocabulary.audit_action
    app.jinja_env.filters["audit_subject"] = vocabulary.audit_subject
    app.jinja_env.globals["Markup"] = Markup
    app.jinja_env.globals["inbox_badge"] = inbox_badge
    app.jinja_env.globals["people"] = people
    app.jinja_env.filters["one_language"] = one_language
    app.jinja_env.globals.update(lang_url=lang_url, navigation=navigation, get_locale=get_locale)
