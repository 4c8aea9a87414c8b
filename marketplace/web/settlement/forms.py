"""Forms of the settlement pages (provider portal and administration)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from marketplace.i18n import _l
from marketplace.settlement.claims import MAX_REASON


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes; values are integer ids."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: object) -> None:
        # Choices are the rows shown on the page; the services check every id again.
        return None


class ClaimForm(FlaskForm):
    order_ids = CheckboxesField(_l("Orders to claim"), coerce=int)
    note = TextAreaField(
        _l("Note to the reviewer (optional)"), validators=[Optional(), Length(max=MAX_REASON)]
    )
    submit = SubmitField(_l("Submit claim"))


class ResubmitForm(FlaskForm):
    version = HiddenField()
    submit = SubmitField(_l("Resubmit the lines sent back"))


class DecisionForm(FlaskForm):
    """A reviewer's or finance officer's decision on chosen lines (none chosen: all)."""

    decision = SelectField(_l("Decision"), validators=[DataRequired()])
    line_ids = CheckboxesField(_l("Lines (none ticked: every line awaiting this step)"), coerce=int)
    reason = TextAreaField(
        _l("Reason (required to send back or reject)"),
        validators=[Optional(), Length(max=MAX_REASON)],
    )
    version = HiddenField()
    submit = SubmitField(_l("Record decision"))


class BatchForm(FlaskForm):
    submit = SubmitField(_l("Build payout batch from the queue"))


class SentForm(FlaskForm):
    version = HiddenField()
    submit = SubmitField(_l("Mark as sent to the bank"))


class ApproveBatchForm(FlaskForm):
    version = HiddenField()
    submit = SubmitField(_l("Approve the batch (second approval)"))


class ConfirmationForm(FlaskForm):
    file = FileField(_l("Bank confirmation file (CSV)"), validators=[FileRequired()])
    submit = SubmitField(_l("Import confirmation"))
