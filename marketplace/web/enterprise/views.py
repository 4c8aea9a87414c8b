"""The SME portal (enterprise users only). Every record is looked up through the signed-in
user's enterprise: another enterprise's application or voucher answers 404."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectChoice

from marketplace import clock
from marketplace.config import current_settings
from marketplace.db import db_session, utcnow
from marketplace.enums import Role, ServiceCategory
from marketplace.errors import DomainError, NotFound
from marketplace.i18n import _
from marketplace.parsing import ascii_int
from marketplace.web.enterprise.forms import ApplyForm, ClarificationResponseForm, ProfileForm
from marketplace.web.forms import fen_of, label_of, show_error
from marketplace.web.permissions import gate_blueprint
from vouchers import applications, certificate, common, enterprises, rules, tokens
from vouchers.models import Application, Hold, Programme, Voucher
from vouchers.programmes import get_programme, open_programmes
from vouchers.wallet import wallet_of

bp = Blueprint("enterprise", __name__, url_prefix="/enterprise")
gate_blueprint(bp, Role.ENTERPRISE)


@bp.context_processor
def _vocabulary() -> dict[str, object]:
    return {"service_categories": {c.value: c for c in ServiceCategory}}


def _enterprise_id() -> int:
    enterprise_id: int = current_user.enterprise_id
    return enterprise_id


@bp.get("/")
def wallet() -> ResponseReturnValue:
    session = db_session()
    found = wallet_of(session, _enterprise_id())
    return render_template(
        "enterprise/wallet.html",
        wallet=found,
        enterprise=enterprises.get_enterprise(session, _enterprise_id()),
    )


@bp.get("/programmes")
def programmes() -> ResponseReturnValue:
    session = db_session()
    today = clock.local_date(utcnow())
    applied = dict(
        session.execute(
            sa.select(Application.programme_id, Application.id).where(
                Application.enterprise_id == _enterprise_id(),
                Application.live_programme_id.is_not(None),
            )
        ).all()
    )
    enterprise = enterprises.get_enterprise(session, _enterprise_id())
    programmes = open_programmes(session, today)
    # Say up front why a programme is closed to this enterprise, rather than after the form.
    ineligible = {
        p.id: rules.eligibility_problems(
            region_prefix=p.region_prefix,
            eligible_size_classes=p.eligible_size_classes,
            eligible_categories=p.eligible_categories,
            region_code=enterprise.region_code,
            size_class=enterprise.size_class,
        )
        for p in programmes
    }
    return render_template(
        "enterprise/programmes.html",
        programmes=programmes,
        applied=applied,
        enterprise=enterprise,
        ineligible=ineligible,
    )


def _category_choices(programme: Programme) -> list[SelectChoice]:
    labels = {c.value: c for c in ServiceCategory}
    return [
        SelectChoice(value, label_of(labels[value]))
        for value in programme.eligible_categories
        if value in labels
    ]


@bp.route("/programmes/<int:programme_id>/apply", methods=["GET", "POST"])
def apply(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = get_programme(session, programme_id)
    if not programme.is_open_on(clock.local_date(utcnow())):
        flash(_("This programme is not open for applications."), "error")
        return redirect(url_for("enterprise.programmes"))
    form = ApplyForm()
    form.planned_categories.choices = _category_choices(programme)
    if form.validate_on_submit():
        try:
            application = applications.apply(
                session,
                _enterprise_id(),
                programme.id,
                applications.ApplicationInput(
                    requested_fen=fen_of(form.requested),
                    planned_categories=list(form.planned_categories.data or []),
                    plan=form.plan.data or "",
                ),
                actor_id=current_user.id,
            )
        except DomainError as exc:
            show_error(exc, form)
            return (
                render_template("enterprise/apply.html", form=form, programme=programme),
                exc.status,
            )
        flash(_("Application submitted. A reviewer will look at it."), "success")
        return redirect(url_for("enterprise.application", application_id=application.id))
    status = 400 if form.errors else 200
    return render_template("enterprise/apply.html", form=form, programme=programme), status


@bp.get("/applications")
def application_list() -> ResponseReturnValue:
    found = db_session().scalars(
        sa.select(Application)
        .where(Application.enterprise_id == _enterprise_id())
        .order_by(Application.id.desc())
    )
    return render_template("enterprise/applications.html", applications=list(found))


@bp.get("/applications/<int:application_id>")
def application(application_id: int) -> ResponseReturnValue:
    found = applications.get_application(
        db_session(), application_id, enterprise_id=_enterprise_id()
    )
    return render_template(
        "enterprise/application.html", application=found, form=ClarificationResponseForm()
    )


@bp.post("/applications/<int:application_id>/respond")
def respond(application_id: int) -> ResponseReturnValue:
    session = db_session()
    found = applications.get_application(session, application_id, enterprise_id=_enterprise_id())
    form = ClarificationResponseForm()
    if not form.validate_on_submit():
        return (
            render_template("enterprise/application.html", application=found, form=form),
            400,
        )
    try:
        applications.respond_to_clarification(
            session,
            application_id,
            enterprise_id=_enterprise_id(),
            response=form.response.data or "",
            actor_id=current_user.id,
        )
    except DomainError as exc:
        show_error(exc, form)
        return (
            render_template("enterprise/application.html", application=found, form=form),
            exc.status,
        )
    flash(_("Your answer was sent; the application is back with the reviewer."), "success")
    return redirect(url_for("enterprise.application", application_id=application_id))


@bp.get("/vouchers/<int:voucher_id>")
def voucher(voucher_id: int) -> ResponseReturnValue:
    session = db_session()
    found = _own_voucher(voucher_id)
    found_holds = session.scalars(
        sa.select(Hold).where(Hold.voucher_id == found.id).order_by(Hold.id.desc())
    )
    return render_template(
        "enterprise/voucher.html",
        voucher=found,
        holds=list(found_holds),
        token=tokens.verification_token(current_app.config["SECRET_KEY"], found),
        serial_ok=rules.serial_is_valid(found.serial),
    )


def _own_voucher(voucher_id: int) -> Voucher:
    found = common.fetch(db_session(), Voucher, voucher_id)
    if found is None or found.enterprise_id != _enterprise_id():
        raise NotFound(_("No such voucher."))
    return found


def _certificate(found: Voucher) -> certificate.Certificate:
    token = tokens.verification_token(current_app.config["SECRET_KEY"], found)
    # The printed QR code must open the public address, not whatever host served this page.
    url = current_settings().base_url.rstrip("/") + url_for("public.verify", token=token)
    return certificate.certificate_of(found, url, utcnow())


@bp.get("/vouchers/<int:voucher_id>/certificate")
def voucher_certificate(voucher_id: int) -> ResponseReturnValue:
    found = _own_voucher(voucher_id)
    cert = _certificate(found)
    return render_template(
        "enterprise/certificate.html",
        voucher=found,
        certificate=cert,
        # segno writes the SVG from the URL we built: markup of our own, safe to inline.
        qr_svg=Markup(certificate.qr_svg(cert.verify_url)),
    )


@bp.get("/vouchers/<int:voucher_id>/certificate.pdf")
def voucher_certificate_pdf(voucher_id: int) -> ResponseReturnValue:
    found = _own_voucher(voucher_id)
    pdf = certificate.render_pdf(_certificate(found))
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="voucher-{found.serial}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> ResponseReturnValue:
    session = db_session()
    enterprise = enterprises.get_enterprise(session, _enterprise_id())
    form = ProfileForm(obj=enterprise)
    if form.validate_on_submit():
        version = form.version.data or ""
        try:
            enterprises.update_profile(
                session,
                enterprise.id,
                enterprises.ProfileInput(
                    contact_name=form.contact_name.data or "",
                    contact_phone=form.contact_phone.data or "",
                    contact_email=form.contact_email.data or "",
                    industry=form.industry.data,
                    identity=enterprises.IdentityInput(
                        legal_rep_name=form.legal_rep_name.data,
                        legal_rep_id_number=form.legal_rep_id_number.data,
                        registered_address=form.registered_address.data,
                        bank_account_number=form.bank_account_number.data,
                    ),
                ),
                expected_version=ascii_int(version) or -1,
                actor_id=current_user.id,
            )
        except DomainError as exc:
            show_error(exc, form)
            page = render_template("enterprise/profile.html", form=form, enterprise=enterprise)
            return page, exc.status
        flash(_("Profile saved."), "success")
        return redirect(url_for("enterprise.profile"))
    status = 400 if form.errors else 200
    return render_template("enterprise/profile.html", form=form, enterprise=enterprise), status
