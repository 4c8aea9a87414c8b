"""Forms of the voucher administration pages (programmes, reviews, enterprises, bulk issue)."""

from __future__ import annotations

import uuid

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.enums import ServiceCategory, SizeClass
from marketplace.i18n import _l
from marketplace.web.forms import MultiCheckboxField, YuanField, enum_choices, lazy_label
from vouchers.enums import (
    CapScope,
    FreezeAction,
    FundingBody,
    ProgrammeKind,
    VerificationStatus,
)


class PercentField(YuanField):
    """A percentage with at most two decimals; ``fen`` holds it in basis points (50 → 5000),
    read exactly like a yuan amount (two decimals, never rounded)."""


class ProgrammeForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=enum_choices(ProgrammeKind))
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(2, 200)])
    funding_body = SelectField(_l("Funded by"), choices=enum_choices(FundingBody))
    total_budget = YuanField(_l("Total budget (yuan)"), validators=[DataRequired()])
    cap_scope = SelectField(_l("Annual cap applies"), choices=enum_choices(CapScope))
    group_cap = BooleanField(_l("Enterprises under one controller share one cap"))
    annual_cap = YuanField(
        _l("Own annual cap per enterprise (yuan)"), validators=[DataRequired()], default="30000"
    )
    ceiling_percent = PercentField(
        _l("Reimbursement ceiling (percent of the price)"),
        validators=[DataRequired()],
        default="50",
    )
    eligible_categories = MultiCheckboxField(
        _l("Services funded"), choices=enum_choices(ServiceCategory), validators=[DataRequired()]
    )
    eligible_size_classes = MultiCheckboxField(
        _l("Eligible size classes"), choices=enum_choices(SizeClass), validators=[DataRequired()]
    )
    region_prefix = StringField(
        _l("Region (division-code prefix)"),
        validators=[DataRequired(), Length(2, 6)],
        default="53",
    )
    applications_open_on = DateField(_l("Applications open on"), validators=[InputRequired()])
    applications_close_on = DateField(_l("Applications close on"), validators=[InputRequired()])
    use_by = DateField(_l("Vouchers usable until"), validators=[InputRequired()])
    claim_deadline = DateField(_l("Redemption claims until"), validators=[InputRequired()])
    low_budget_alert_percent = PercentField(
        _l("Low-budget alert at (percent left)"), validators=[DataRequired()], default="10"
    )
    notice_days = IntegerField(
        _l("Public notice (days)"), validators=[InputRequired(), NumberRange(0, 365)], default=7
    )
    version = HiddenField()


class ApproveForm(FlaskForm):
    amount = YuanField(_l("Amount to approve (yuan)"), validators=[Optional()])
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=2000)])


class ClarifyForm(FlaskForm):
    question = TextAreaField(
        _l("Question to the enterprise"), validators=[DataRequired(), Length(1, 2000)]
    )


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason for rejection"), validators=[DataRequired(), Length(1, 2000)])


class BulkIssueForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"), validators=[FileRequired()])


def _new_key() -> str:
    return uuid.uuid4().hex


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for revocation"), validators=[DataRequired(), Length(1, 2000)]
    )
    # One key per rendered form: a double submit revokes (and flags) once.
    idempotency_key = HiddenField(default=_new_key, validators=[DataRequired(), Length(1, 100)])


class VerificationForm(FlaskForm):
    decision = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice(status.value, lazy_label(status))
            for status in (VerificationStatus.VERIFIED, VerificationStatus.REJECTED)
        ],
    )
    note = TextAreaField(_l("Note (required when refusing)"), validators=[Length(max=2000)])


class BlacklistForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(1, 2000)])
    source = StringField(
        _l("Source (listing authority)"), validators=[DataRequired(), Length(1, 200)]
    )
    listed_on = DateField(_l("Listed on"), validators=[InputRequired()])


class UnblacklistForm(FlaskForm):
    reason = TextAreaField(_l("Reason for removal"), validators=[DataRequired(), Length(1, 2000)])
    source = StringField(_l("Source (optional)"), validators=[Length(max=200)])


class FreezeDecisionForm(FlaskForm):
    decision = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice(FreezeAction.RELEASE.value, _l("Release the voucher money to the budget")),
            SelectChoice(FreezeAction.UNFREEZE.value, _l("Unfreeze: the order goes on")),
        ],
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(1, 2000)])
