"""The orders a blacklisting froze, and the reviewer's decision on each: release the voucher
money to the programme budget, or unfreeze it with a reason. Reviewers decide; every
administrator role may read."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.web.admin.views import bp
from marketplace.web.admin.voucher_forms import FreezeDecisionForm
from marketplace.web.forms import show_error
from marketplace.web.permissions import roles_required
from vouchers import freezes
from vouchers.enums import FreezeAction, FreezeStatus
from vouchers.models import HoldFreeze

PAGE = 200


def _page(form: FreezeDecisionForm | None = None, failed_id: int | None = None) -> str:
    wanted = request.args.get("status", FreezeStatus.FROZEN.value)
    try:
        status = FreezeStatus(wanted)
    except ValueError:
        abort(404)
    enterprise_id = request.args.get("enterprise_id", type=int)
    stmt = freezes.pending(db_session(), enterprise_id=enterprise_id, include_decided=True)
    stmt = stmt.where(HoldFreeze.status == status).limit(PAGE)
    return render_template(
        "admin/vouchers/freezes.html",
        rows=list(db_session().scalars(stmt)),
        statuses=list(FreezeStatus),
        wanted=status,
        form=form or FreezeDecisionForm(),
        failed_id=failed_id,
    )


@bp.get("/freezes")
def freeze_list() -> ResponseReturnValue:
    return _page()


@bp.post("/freezes/<int:freeze_id>/decision")
@roles_required(Role.REVIEWER)
def freeze_decide(freeze_id: int) -> ResponseReturnValue:
    session = db_session()
    freezes.get_freeze(session, freeze_id)  # 404 for an unknown one
    form = FreezeDecisionForm()
    if not form.validate_on_submit():
        return _page(form, freeze_id), 400
    try:
        freezes.decide(
            session,
            freeze_id,
            FreezeAction(form.decision.data),
            reason=form.reason.data or "",
            actor_id=current_user.id,
        )
    except DomainError as exc:
        show_error(exc, form, {exc.field or "": "reason"})
        return _page(form, freeze_id), exc.status
    flash(_("Decision recorded."), "success")
    return redirect(url_for("admin.freeze_list"))
