"""Sign-in, sign-out, registration and the account page (thin: forms in, services out)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from marketplace.auth import second_factor as totp
from marketplace.auth import services, sessions
from marketplace.auth.models import ApiToken, User
from marketplace.auth.throttle import LoginThrottle, count_failure, send_noted_notices
from marketplace.db import db_session, utcnow
from marketplace.enums import InstitutionType, SizeClass
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.ratelimit import limiter
from marketplace.web.auth.forms import (
    SCOPE_LABELS,
    EnrolmentForm,
    EnterpriseRegistrationForm,
    LoginForm,
    PasswordChangeForm,
    PasswordForgotForm,
    PasswordResetForm,
    ProviderRegistrationForm,
    SecondFactorForm,
    TokenForm,
)
from marketplace.web.forms import show_error
from marketplace.web.permissions import second_factor_is_fresh
from providers.services import register_provider as register_provider_account
from vouchers.enterprises import IdentityInput
from vouchers.enterprises import register_enterprise as register_enterprise_account

bp = Blueprint("auth", __name__)

#: Between a right password and the second factor: who, and since when (5 minutes at most).
PENDING_USER = "_2fa_pending_user"
PENDING_SINCE = "_2fa_pending_since"
PENDING_LIFETIME = 300
#: The secret being enrolled, until a code made from it is entered.
ENROLMENT_SECRET = "_2fa_enrolment_secret"


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def throttle() -> LoginThrottle:
    found: LoginThrottle = current_app.extensions["login_throttle"]
    return found


def _too_soon(form: LoginForm | SecondFactorForm, template: str, wait: int) -> ResponseReturnValue:
    flash(
        _("Too many failed attempts for this account. Try again in %(s)s seconds.", s=wait), "error"
    )
    return render_template(template, form=form), 429, {"Retry-After": str(wait)}


def _count_failure(email: str) -> None:
    count_failure(throttle(), email)


bp.teardown_request(send_noted_notices)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data or ""
        wait = throttle().wait_seconds(email)
        if wait:
            return _too_soon(form, "auth/login.html", wait)
        try:
            user = services.authenticate(db_session(), email, form.password.data or "")
        except DomainError:
            _count_failure(email)
            flash(_("Wrong e-mail or password."), "error")
            return render_template("auth/login.html", form=form), 401
        target = safe_next(request.args.get("next"))
        if user.has_second_factor:
            # The password was right; the session is not signed in until the second factor is.
            sessions.clear(session)
            session[PENDING_USER] = user.id
            session[PENDING_SINCE] = int(utcnow().timestamp())
            return redirect(url_for("auth.login_second_factor", next=target))
        throttle().succeeded(email)
        sign_in(user, second_factor=False)
        flash(_("Signed in."), "success")
        return redirect(target or url_for("auth.account"))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


def sign_in(user: User, *, second_factor: bool) -> None:
    """Start a fresh session for ``user``: nothing from before sign-in is carried over (no
    fixation), and the session is stamped with what ends it (see marketplace/auth/sessions)."""
    sessions.clear(session)
    login_user(user)
    sessions.open_session(session, user, utcnow(), second_factor=second_factor)


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    # Signing out ends the account's sessions everywhere: a copied cookie dies with it.
    services.end_sessions(db_session(), current_user, actor_id=current_user.id, reason="logout")
    logout_user()
    sessions.clear(session)
    flash(_("Signed out."), "success")
    return redirect(url_for("public.home"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions() -> ResponseReturnValue:
    """ "Sign out everywhere else": every other browser loses its session, this one stays."""
    services.end_sessions(
        db_session(), current_user, actor_id=current_user.id, reason="sign_out_everywhere"
    )
    sessions.follow_generation(session, current_user)
    flash(_("Every other session of your account has been signed out."), "success")
    return redirect(url_for("auth.account"))


@bp.get("/register")
def register() -> ResponseReturnValue:
    return render_template("auth/register_choice.html")


def _organisation_input(
    form: EnterpriseRegistrationForm | ProviderRegistrationForm,
) -> services.OrganisationInput:
    return services.OrganisationInput(
        name=form.name.data or "",
        credit_code=form.credit_code.data or "",
        contact_name=form.contact_name.data or "",
        contact_phone=form.contact_phone.data or "",
        email=form.email.data or "",
        password=form.password.data or "",
    )


def _show_domain_error(
    form: EnterpriseRegistrationForm
    | ProviderRegistrationForm
    | PasswordChangeForm
    | PasswordResetForm,
    exc: DomainError,
) -> None:
    show_error(exc, form)


def _registered(form: EnterpriseRegistrationForm | ProviderRegistrationForm) -> ResponseReturnValue:
    """The one answer to every accepted registration form, whether it made an account or found
    the address already taken (then the owner is told by e-mail instead): the page cannot be
    used to learn who has an account. Either way the person signs in next."""
    flash(
        _(
            "Registration received: we have sent an e-mail to %(email)s. "
            "Sign in with that address and your password to continue.",
            email=form.email.data or "",
        ),
        "success",
    )
    return redirect(url_for("auth.login"))


def _register(
    form: EnterpriseRegistrationForm | ProviderRegistrationForm,
    kind: str,
    create: Callable[[], User],
    pending: tuple[str, str],
) -> ResponseReturnValue:
    try:
        services.register_without_disclosure(
            db_session(), _organisation_input(form), create, pending=pending
        )
    except DomainError as exc:
        _show_domain_error(form, exc)
        return render_template("auth/register.html", form=form, kind=kind), exc.status
    return _registered(form)


@bp.route("/register/enterprise", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register_enterprise() -> ResponseReturnValue:
    form = EnterpriseRegistrationForm()
    if form.validate_on_submit():
        return _register(
            form,
            "enterprise",
            lambda: register_enterprise_account(
                db_session(),
                _organisation_input(form),
                size_class=SizeClass(form.size_class.data),
                industry=form.industry.data,
                identity=IdentityInput(
                    legal_rep_name=form.legal_rep_name.data,
                    legal_rep_id_number=form.legal_rep_id_number.data,
                    registered_address=form.registered_address.data,
                    bank_account_number=form.bank_account_number.data,
                ),
            ),
            services.ENTERPRISE_PENDING,
        )
    status = 400 if form.errors else 200
    return render_template("auth/register.html", form=form, kind="enterprise"), status


@bp.route("/register/provider", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register_provider() -> ResponseReturnValue:
    form = ProviderRegistrationForm()
    if form.validate_on_submit():
        return _register(
            form,
            "provider",
            lambda: register_provider_account(
                db_session(),
                _organisation_input(form),
                institution_type=InstitutionType(form.institution_type.data),
                legal_rep_name=form.legal_rep_name.data,
                legal_rep_id_number=form.legal_rep_id_number.data,
            ),
            services.PROVIDER_PENDING,
        )
    status = 400 if form.errors else 200
    return render_template("auth/register.html", form=form, kind="provider"), status


@bp.get("/account")
@login_required
def account() -> ResponseReturnValue:
    tokens = db_session().scalars(
        sa.select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc())
    )
    return render_template(
        "auth/account.html", tokens=list(tokens), form=TokenForm(), scope_labels=SCOPE_LABELS
    )


@bp.post("/account/tokens")
@login_required
def create_token() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name and choose what it may do."), "error")
        return redirect(url_for("auth.account"))
    _token, plain = services.create_api_token(
        db_session(), current_user, name=form.name.data or "", scopes=form.scopes.data or []
    )
    flash(_("New token (shown only once): %(token)s", token=plain), "token")
    return redirect(url_for("auth.account"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    services.revoke_api_token(db_session(), current_user, token_id)
    flash(_("Token revoked."), "success")
    return redirect(url_for("auth.account"))


# --------------------------------------------------------------------------- passwords


def _owner(user: User) -> tuple[str, ...]:
    return (user.email, user.display_name)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def change_password() -> ResponseReturnValue:
    form = PasswordChangeForm(_owner(current_user))
    if form.validate_on_submit():
        try:
            services.change_password(
                db_session(),
                current_user,
                form.current_password.data or "",
                form.password.data or "",
            )
        except DomainError as exc:
            _show_domain_error(form, exc)
            return render_template("auth/password_change.html", form=form), exc.status
        # Every other session ended with the change; this one carries on.
        sessions.follow_generation(session, current_user)
        flash(
            _("Password changed. Every other session of your account has been signed out."),
            "success",
        )
        return redirect(url_for("auth.account"))
    status = 400 if form.errors else 200
    return render_template("auth/password_change.html", form=form), status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password() -> ResponseReturnValue:
    form = PasswordForgotForm()
    if form.validate_on_submit():
        services.request_password_reset(db_session(), form.email.data or "")
        # One answer whether or not the address has an account (no enumeration).
        flash(
            _(
                "If an account uses this address, we have sent it a link to reset the password. "
                "The link works once, within an hour."
            ),
            "success",
        )
        return redirect(url_for("auth.login"))
    status = 400 if form.errors else 200
    return render_template("auth/password_forgot.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
def reset_password(token: str) -> ResponseReturnValue:
    # Checked before the form is shown, so an expired or used link says so at once.
    user = services.user_for_reset_link(db_session(), token)
    form = PasswordResetForm(_owner(user))
    if form.validate_on_submit():
        try:
            services.reset_password(db_session(), token, form.password.data or "")
        except DomainError as exc:
            _show_domain_error(form, exc)
            return render_template("auth/password_reset.html", form=form), exc.status
        if current_user.is_authenticated:
            logout_user()
        sessions.clear(session)
        flash(_("Your password has been reset. Sign in with the new one."), "success")
        return redirect(url_for("auth.login"))
    status = 400 if form.errors else 200
    return render_template("auth/password_reset.html", form=form), status


# --------------------------------------------------------------------------- second factor


def _pending_user() -> User | None:
    user_id, since = session.get(PENDING_USER), session.get(PENDING_SINCE)
    if not isinstance(user_id, int) or not isinstance(since, int):
        return None
    if int(utcnow().timestamp()) - since > PENDING_LIFETIME:
        return None
    user = db_session().get(User, user_id)
    return user if user is not None and user.is_active and user.has_second_factor else None


@bp.route("/login/second-factor", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login_second_factor() -> ResponseReturnValue:
    user = _pending_user()
    if user is None:
        flash(_("Sign in again."), "error")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        wait = throttle().wait_seconds(user.email)
        if wait:
            return _too_soon(form, "auth/second_factor.html", wait)
        try:
            totp.verify(db_session(), user, form.code.data or "")
        except DomainError as exc:
            # Wrong codes count against the account like wrong passwords.
            _count_failure(user.email)
            form.code.errors = [*form.code.errors, exc.message]
            return render_template("auth/second_factor.html", form=form), exc.status
        throttle().succeeded(user.email)
        sign_in(user, second_factor=True)
        flash(_("Signed in."), "success")
        return redirect(safe_next(request.args.get("next")) or url_for("auth.account"))
    status = 400 if form.errors else 200
    return render_template("auth/second_factor.html", form=form), status


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
def second_factor() -> ResponseReturnValue:
    """Enrolment (a QR code and a code to confirm it), or the state of an enrolled factor."""
    user: User = current_user
    if user.has_second_factor:
        left = totp.recovery_codes_left(db_session(), user)
        return render_template("auth/second_factor_status.html", left=left)
    secret = session.get(ENROLMENT_SECRET)
    if not isinstance(secret, str):
        secret = session[ENROLMENT_SECRET] = totp.new_secret()
    form = EnrolmentForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = totp.enrol(db_session(), user, secret, form.code.data or "")
        except DomainError as exc:
            form.code.errors = [*form.code.errors, exc.message]
            status = exc.status
        else:
            session.pop(ENROLMENT_SECRET, None)
            sessions.mark_second_factor(session, utcnow())
            flash(_("Two-step verification is on."), "success")
            return render_template("auth/recovery_codes.html", codes=codes)
    elif form.errors:
        status = 400
    uri = totp.provisioning_uri(user, secret)
    return (
        render_template(
            "auth/second_factor_enrol.html",
            form=form,
            secret=secret,
            qr=Markup(totp.qr_svg(uri)),
        ),
        status,
    )


@bp.post("/account/second-factor/recovery-codes")
@login_required
def renew_recovery_codes() -> ResponseReturnValue:
    if not second_factor_is_fresh():
        flash(_("Confirm it is you with your second factor, then try again."), "warning")
        return redirect(url_for("auth.confirm_second_factor", next=url_for("auth.second_factor")))
    codes = totp.renew_recovery_codes(db_session(), current_user)
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def confirm_second_factor() -> ResponseReturnValue:
    """Step-up: enter the second factor again before an action that needs a fresh one."""
    target = safe_next(request.args.get("next")) or url_for("auth.account")
    if not current_user.has_second_factor:
        flash(_("Set up two-step verification first."), "warning")
        return redirect(url_for("auth.second_factor"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            totp.verify(db_session(), current_user, form.code.data or "")
        except DomainError as exc:
            form.code.errors = [*form.code.errors, exc.message]
            return render_template("auth/confirm.html", form=form), exc.status
        sessions.mark_second_factor(session, utcnow())
        flash(_("Confirmed. You can go on for the next five minutes."), "success")
        return redirect(target)
    status = 400 if form.errors else 200
    return render_template("auth/confirm.html", form=form), status
