"""Accounts: the list of people who can sign in (system administrators and auditors read it)
and the second-factor reset for someone who lost their authenticator (system administrators,
with a fresh second factor of their own; recorded, and the person is told by e-mail)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace import masking
from marketplace.auth import second_factor
from marketplace.auth.models import User
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.web.admin.views import bp
from marketplace.web.permissions import fresh_second_factor, roles_required

READERS = (Role.SYSADMIN, Role.AUDITOR)
PAGE_SIZE = 200


@bp.get("/users")
@roles_required(*READERS)
def users() -> ResponseReturnValue:
    people = db_session().scalars(sa.select(User).order_by(User.id).limit(PAGE_SIZE))
    return render_template("admin/users.html", users=list(people), masking=masking)


@bp.post("/users/<int:user_id>/second-factor/reset")
@roles_required(Role.SYSADMIN)
@fresh_second_factor
def reset_second_factor(user_id: int) -> ResponseReturnValue:
    session = db_session()
    person = session.get(User, user_id)
    if person is None:
        abort(404)
    try:
        second_factor.reset(session, person, actor=current_user)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.users"))
    flash(_("Two-step verification reset; the person has been told by e-mail."), "success")
    return redirect(url_for("admin.users"))
