"""Forms of the funders' pages: a funder, a programme's shares, a funder's budget."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from marketplace.i18n import _l
from marketplace.web.admin.voucher_forms import PercentField
from marketplace.web.forms import YuanField

#: Rows of the shares form: more than any programme has needed (province, prefecture, county).
SHARE_ROWS = 4


class FunderForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(2, 200)])
    region_code = StringField(
        _l("Division code (GB/T 2260)"), validators=[DataRequired(), Length(2, 6)]
    )
    bank_account_name = StringField(_l("Account name"), validators=[Length(max=200)])
    bank_name = StringField(_l("Bank"), validators=[Length(max=200)])
    bank_account_number = StringField(_l("Account number"), validators=[Length(max=40)])
    version = HiddenField()


class ShareRowForm(FlaskForm):
    """One share: who pays (a funder's id, ``home:prefecture`` / ``home:county``, or nobody
    for an unused row) and how much (percent, two decimals)."""

    class Meta:
        csrf = False  # the enclosing form carries the token

    payer = SelectField(_l("Paid by"), choices=[], validate_choice=False)
    percent = PercentField(_l("Share (percent)"), validators=[Optional()])


class SharesForm(FlaskForm):
    rows = FieldList(FormField(ShareRowForm), min_entries=SHARE_ROWS, max_entries=SHARE_ROWS)
    version = HiddenField()


class FunderBudgetForm(FlaskForm):
    funder = SelectField(_l("Funder"), choices=[], validate_choice=False)
    budget = YuanField(_l("Budget (yuan)"), validators=[DataRequired()])
