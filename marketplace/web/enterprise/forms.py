"""Forms of the SME portal."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length

from marketplace.i18n import _l
from marketplace.web.forms import MultiCheckboxField, YuanField


class ApplyForm(FlaskForm):
    requested = YuanField(_l("Amount requested (yuan)"), validators=[DataRequired()])
    planned_categories = MultiCheckboxField(
        _l("Services you plan to buy"), validators=[DataRequired()]
    )
    plan = TextAreaField(
        _l("Your plan in a few sentences"), validators=[DataRequired(), Length(10, 2000)]
    )


class ClarificationResponseForm(FlaskForm):
    response = TextAreaField(_l("Your answer"), validators=[DataRequired(), Length(1, 2000)])


class ProfileForm(FlaskForm):
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(1, 100)])
    contact_phone = StringField(_l("Contact phone"), validators=[DataRequired(), Length(5, 40)])
    contact_email = EmailField(
        _l("Contact e-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    industry = StringField(_l("Industry"), validators=[Length(max=100)])
    registered_address = StringField(_l("Registered address"), validators=[Length(max=300)])
    legal_rep_name = StringField(_l("Legal representative"), validators=[Length(max=100)])
    legal_rep_id_number = StringField(
        _l("Legal representative's ID number"), validators=[Length(max=30)]
    )
    bank_account_number = StringField(_l("Bank account number"), validators=[Length(max=60)])
    version = HiddenField(validators=[InputRequired()])
