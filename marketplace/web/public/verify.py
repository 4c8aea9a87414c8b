"""Public voucher verification: what a provider opens by scanning a certificate's QR code.

Anyone holding a token learns whether the voucher is genuine and usable now, with the holder's
name masked and no amounts. A signed-in admitted provider also sees how much the voucher can
cover and, for each of its own services the programme funds, the voucher part at the listed
price (the split of :func:`vouchers.rules.split_order`, the one the order will use);
administrators see the amounts too. Looking a voucher up by its serial needs one of those
sign-ins: a serial is printed in plain text and has a check character, so it is guessable
where the signed token is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Response, current_app, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace import masking
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.i18n import _
from marketplace.web import vocabulary
from marketplace.web.public.views import bp
from providers.enums import PricingMode, ProviderStatus
from providers.models import Provider, Service
from vouchers import rules, tokens
from vouchers.errors import VoucherTokenInvalid

#: itsdangerous tokens are "<payload>.<signature>" in URL-safe base64; a serial never has a dot.
TOKEN_MARK = "."


@dataclass(frozen=True, slots=True)
class ServiceCover:
    service: Service
    #: The voucher part at the listed price (None for services priced by quote).
    voucher_fen: int | None
    copay_fen: int | None


def _sees_amounts() -> bool:
    """Admitted providers and administrators see amounts; nobody else does."""
    if not current_user.is_authenticated:
        return False
    if current_user.role in ADMIN_ROLES:
        return True
    if current_user.role is not Role.PROVIDER:
        return False
    provider = db_session().get(Provider, current_user.provider_id)
    return provider is not None and provider.status is ProviderStatus.ADMITTED


def _may_look_up_serials() -> bool:
    return current_user.is_authenticated and (
        current_user.role is Role.PROVIDER or current_user.role in ADMIN_ROLES
    )


def _covers(result: tokens.Verification) -> list[ServiceCover]:
    """The signed-in provider's active services the voucher's programme funds."""
    if not current_user.is_authenticated or current_user.role is not Role.PROVIDER:
        return []
    programme = result.voucher.programme
    services = db_session().scalars(
        sa.select(Service)
        .where(
            Service.provider_id == current_user.provider_id,
            Service.is_active.is_(True),
            Service.category.in_(programme.eligible_categories),
        )
        .order_by(Service.title, Service.id)
    )
    covers = []
    for service in services:
        if service.pricing is PricingMode.FIXED and service.price_fen and result.usable:
            split = rules.split_order(
                price_fen=service.price_fen,
                requested_fen=service.price_fen,
                ceiling_bps=programme.ceiling_bps,
                balance_fen=result.voucher.balance_fen,
                cap_remaining_fen=result.cap_remaining_fen,
            )
            covers.append(ServiceCover(service, split.voucher_fen, split.copay_fen))
        else:
            covers.append(ServiceCover(service, None, None))
    return covers


def _answer(
    result: tokens.Verification | None, query: str, error: str | None, status: int = 200
) -> Response:
    amounts = result is not None and _sees_amounts()
    page = render_template(
        "public/verify.html",
        result=result,
        query=query,
        error=error,
        amounts=amounts,
        covers=_covers(result) if amounts and result is not None else [],
        holder=masking.organisation_name(result.voucher.enterprise.name) if result else "",
        reason=vocabulary.refusal_label(result.reason) if result and not result.usable else "",
        may_look_up_serials=_may_look_up_serials(),
    )
    response = make_response(page, status)
    # This page alone may use the camera: a provider scans a certificate's QR code with it.
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    return response


@bp.get("/verify")
def verify_form() -> ResponseReturnValue:
    """Type a serial or paste a token (or a whole verification URL)."""
    query = (request.args.get("q") or "").strip()
    if not query:
        return _answer(None, "", None)
    if "/verify/" in query:
        query = query.rsplit("/verify/", 1)[1].strip()
    if TOKEN_MARK in query:
        return redirect(url_for("public.verify", token=query))
    if not _may_look_up_serials():
        message = _(
            "Sign in as a service provider to verify by serial, or scan the QR code on the "
            "certificate."
        )
        return _answer(None, query, message, 403)
    session = db_session()
    try:
        voucher = tokens.voucher_for_serial(session, query)
    except VoucherTokenInvalid as exc:
        exc.recovered()  # "no such voucher" is the verification's answer, not a failure
        return _answer(None, query, _("No voucher has this serial."), 404)
    return _answer(tokens.verify_voucher(session, voucher), query, None)


@bp.get("/verify/<token>")
def verify(token: str) -> ResponseReturnValue:
    try:
        result = tokens.verify(db_session(), current_app.config["SECRET_KEY"], token)
    except VoucherTokenInvalid as exc:
        exc.recovered()  # a forged or mistyped token is an answer, not a failed request
        message = _("Not genuine: this code was not issued by the platform.")
        return _answer(None, "", message, 404)
    return _answer(result, "", None)
