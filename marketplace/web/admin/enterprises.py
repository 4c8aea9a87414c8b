"""Enterprise verification queue and dishonesty-list (失信) management. Reviewers act; every
administrator role may read."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace.auth.models import User
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.web.admin.views import bp
from marketplace.web.admin.voucher_forms import BlacklistForm, UnblacklistForm, VerificationForm
from marketplace.web.forms import show_error
from marketplace.web.permissions import fresh_second_factor, roles_required
from vouchers import enterprises
from vouchers.enums import VerificationStatus
from vouchers.models import (
    Application,
    BlacklistEvent,
    Enterprise,
    EnterpriseVerificationEvent,
    Voucher,
)

#: Reviewers decide; system administrators only read (separation of duties).
REVIEWERS = (Role.REVIEWER,)
PAGE = 100


@bp.get("/enterprises")
def enterprise_queue() -> ResponseReturnValue:
    wanted = request.args.get("status", VerificationStatus.PENDING.value)
    stmt = sa.select(Enterprise).order_by(Enterprise.id).limit(PAGE)
    status = None
    if wanted == "blacklisted":
        stmt = stmt.where(Enterprise.blacklisted.is_(True))
    elif wanted != "all":
        try:
            status = VerificationStatus(wanted)
        except ValueError:
            abort(404)
        stmt = stmt.where(Enterprise.verification_status == status)
    return render_template(
        "admin/vouchers/enterprises.html",
        enterprises=list(db_session().scalars(stmt)),
        wanted=wanted,
        statuses=list(VerificationStatus),
    )


def _page(enterprise: Enterprise, **forms: object) -> str:
    session = db_session()
    actors = dict(session.execute(sa.select(User.id, User.display_name)).all())
    return render_template(
        "admin/vouchers/enterprise.html",
        enterprise=enterprise,
        actors=actors,
        verification_events=list(
            session.scalars(
                sa.select(EnterpriseVerificationEvent)
                .where(EnterpriseVerificationEvent.enterprise_id == enterprise.id)
                .order_by(EnterpriseVerificationEvent.id)
            )
        ),
        blacklist_events=list(
            session.scalars(
                sa.select(BlacklistEvent)
                .where(BlacklistEvent.enterprise_id == enterprise.id)
                .order_by(BlacklistEvent.id)
            )
        ),
        applications=list(
            session.scalars(
                sa.select(Application)
                .where(Application.enterprise_id == enterprise.id)
                .order_by(Application.id.desc())
            )
        ),
        vouchers=list(
            session.scalars(
                sa.select(Voucher)
                .where(Voucher.enterprise_id == enterprise.id)
                .order_by(Voucher.id.desc())
            )
        ),
        verification_form=forms.get("verification_form") or VerificationForm(),
        blacklist_form=forms.get("blacklist_form") or BlacklistForm(),
        unblacklist_form=forms.get("unblacklist_form") or UnblacklistForm(),
    )


def _refused(exc: DomainError, form: object) -> None:
    show_error(exc, form)


@bp.get("/enterprises/<int:enterprise_id>")
def enterprise_detail(enterprise_id: int) -> ResponseReturnValue:
    return _page(enterprises.get_enterprise(db_session(), enterprise_id))


@bp.post("/enterprises/<int:enterprise_id>/verification")
@roles_required(*REVIEWERS)
def enterprise_verify(enterprise_id: int) -> ResponseReturnValue:
    session = db_session()
    enterprise = enterprises.get_enterprise(session, enterprise_id)
    form = VerificationForm()
    if not form.validate_on_submit():
        return _page(enterprise, verification_form=form), 400
    try:
        enterprises.decide_verification(
            session,
            enterprise.id,
            VerificationStatus(form.decision.data),
            note=form.note.data,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        _refused(exc, form)
        return _page(enterprise, verification_form=form), exc.status
    flash(_("Verification decision recorded."), "success")
    return redirect(url_for("admin.enterprise_detail", enterprise_id=enterprise.id))


@bp.post("/enterprises/<int:enterprise_id>/blacklist")
@roles_required(*REVIEWERS)
@fresh_second_factor
def enterprise_blacklist(enterprise_id: int) -> ResponseReturnValue:
    session = db_session()
    enterprise = enterprises.get_enterprise(session, enterprise_id)
    form = BlacklistForm()
    if not form.validate_on_submit():
        return _page(enterprise, blacklist_form=form), 400
    try:
        enterprises.blacklist_enterprise(
            session,
            enterprise.id,
            reason=form.reason.data or "",
            source=form.source.data or "",
            listed_on=form.listed_on.data,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        _refused(exc, form)
        return _page(enterprise, blacklist_form=form), exc.status
    flash(_("The enterprise is now on the dishonesty list."), "success")
    return redirect(url_for("admin.enterprise_detail", enterprise_id=enterprise.id))


@bp.post("/enterprises/<int:enterprise_id>/blacklist/removal")
@roles_required(*REVIEWERS)
def enterprise_unblacklist(enterprise_id: int) -> ResponseReturnValue:
    session = db_session()
    enterprise = enterprises.get_enterprise(session, enterprise_id)
    form = UnblacklistForm()
    if not form.validate_on_submit():
        return _page(enterprise, unblacklist_form=form), 400
    try:
        enterprises.remove_from_blacklist(
            session,
            enterprise.id,
            reason=form.reason.data or "",
            source=form.source.data,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        _refused(exc, form)
        return _page(enterprise, unblacklist_form=form), exc.status
    flash(_("The enterprise was removed from the dishonesty list."), "success")
    return redirect(url_for("admin.enterprise_detail", enterprise_id=enterprise.id))
