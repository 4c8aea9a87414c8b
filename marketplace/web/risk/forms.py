"""Forms of the risk pages."""

from __future__ import annotations

from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.i18n import _l
from marketplace.risk.enums import FindingOutcome, FollowUp
from marketplace.web.forms import enum_choices
from marketplace.web.provider.forms import SafeForm


class SampleForm(SafeForm):
    size = IntegerField(_l("Sample size"), validators=[InputRequired(), NumberRange(1, 1000)])
    seed = IntegerField(
        _l("Seed (blank: random; recorded)"),
        validators=[Optional(), NumberRange(0, 2**62 - 1)],
    )
    programme_id = IntegerField(_l("Programme id"), validators=[Optional(), NumberRange(1)])
    provider_id = IntegerField(_l("Provider id"), validators=[Optional(), NumberRange(1)])
    min_score = IntegerField(
        _l("Lowest risk score"), default=0, validators=[Optional(), NumberRange(0, 100)]
    )
    note = StringField(_l("Note"), validators=[Length(max=2000)])


class FindingForm(SafeForm):
    outcome = SelectField(
        _l("Finding"), choices=enum_choices(FindingOutcome), validators=[DataRequired()]
    )
    follow_up = SelectField(
        _l("Follow-up"), choices=enum_choices(FollowUp), default=FollowUp.NONE.value
    )
    notes = TextAreaField(_l("Notes"), validators=[DataRequired(), Length(1, 5000)])
    documents = MultipleFileField(_l("Documents (PDF, PNG or JPEG)"))


class SettingForm(SafeForm):
    threshold = IntegerField(_l("Threshold"), validators=[InputRequired(), NumberRange(0)])
    weight = IntegerField(_l("Weight"), validators=[InputRequired(), NumberRange(0, 100)])
    enabled = BooleanField(_l("Enabled"))
