"""Revealing one masked field whole (bank account, phone, e-mail): the administrator gives a
reason after a fresh second factor; the page shows the value once and the audit trail records
who saw which field and why (``providers/personal_data.py``)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from marketplace.db import db_session
from marketplace.errors import DomainError
from marketplace.i18n import _l
from marketplace.web.admin.views import bp
from marketplace.web.permissions import fresh_second_factor, roles_required
from providers import personal_data


class RevealForm(FlaskForm):
    reason = StringField(
        _l("Why do you need to see it whole?"),
        validators=[DataRequired(), Length(personal_data.MIN_REASON, 500)],
    )
    submit = SubmitField(_l("Show in full"))


FIELD_LABELS = {
    "contact_phone": _l("Contact phone"),
    "contact_email": _l("Contact e-mail"),
    "bank_account_number": _l("Bank account number"),
    "email": _l("E-mail"),
}


@bp.route("/personal-data/<subject_type>/<int:subject_id>/<field>", methods=["GET", "POST"])
@roles_required(*personal_data.REVEALERS)
@fresh_second_factor
def reveal_personal_data(subject_type: str, subject_id: int, field: str) -> ResponseReturnValue:
    session = db_session()
    masked = personal_data.masked_value(session, subject_type, subject_id, field)  # 404 if none
    form = RevealForm()
    revealed = None
    status = 200
    if form.validate_on_submit():
        try:
            revealed = personal_data.reveal(
                session, current_user, subject_type, subject_id, field, form.reason.data or ""
            )
        except DomainError as exc:
            form.reason.errors = [*form.reason.errors, exc.message]
            status = exc.status
    elif form.errors:
        status = 400
    return (
        render_template(
            "admin/reveal.html",
            form=form,
            masked=masked,
            revealed=revealed,
            field_label=FIELD_LABELS[field],
            subject_type=subject_type,
        ),
        status,
    )
