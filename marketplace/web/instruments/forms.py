"""Forms of the instrument booking pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.i18n import _l
from marketplace.instruments.enums import RateBasis
from marketplace.instruments.services import MAX_NOTE, MAX_SAMPLES
from marketplace.web.forms import enum_choices


class BookForm(FlaskForm):
    start = HiddenField(validators=[DataRequired()])
    hours = SelectField(_l("Hours"), coerce=int, validate_choice=True)
    samples = IntegerField(
        _l("Number of samples"), validators=[Optional(), NumberRange(1, MAX_SAMPLES)]
    )
    note = TextAreaField(
        _l("What you will measure (optional)"), validators=[Optional(), Length(max=MAX_NOTE)]
    )
    submit = SubmitField(_l("Request this booking"))

    #: A slot that is not free is about the hours asked from the chosen start (a hidden field).
    error_fields = {"starts_at": "hours"}


class StepForm(FlaskForm):
    """Confirm, or record a no-show: only the version the page was read at."""

    version = HiddenField()
    submit = SubmitField()


class ReasonForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=MAX_NOTE)])
    submit = SubmitField()


class UseForm(FlaskForm):
    version = HiddenField()
    used = IntegerField(_l("Amount actually used"), validators=[InputRequired(), NumberRange(1)])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_NOTE)])
    submit = SubmitField(_l("Record use"))


class CalendarForm(FlaskForm):
    rate_basis = SelectField(_l("The listed rate is charged"), choices=enum_choices(RateBasis))
    open_weekdays = StringField(
        _l("Open weekdays (1 = Monday … 7 = Sunday)"),
        validators=[DataRequired(), Length(max=20)],
        default="12345",
    )
    opens_hour = IntegerField(_l("Opens at (hour)"), validators=[InputRequired()], default=9)
    closes_hour = IntegerField(_l("Closes at (hour)"), validators=[InputRequired()], default=17)
    min_hours = IntegerField(
        _l("Shortest booking (hours)"), validators=[InputRequired()], default=1
    )
    max_hours = IntegerField(_l("Longest booking (hours)"), validators=[InputRequired()], default=8)
    lead_time_hours = IntegerField(
        _l("Book at least this many hours ahead"), validators=[InputRequired()], default=24
    )
    free_cancel_hours = IntegerField(
        _l("Free cancellation until this many hours before"),
        validators=[InputRequired()],
        default=24,
    )
    no_show_percent = IntegerField(
        _l("No-show charge (percent of the price, from the co-payment)"),
        validators=[InputRequired(), NumberRange(0, 100)],
        default=0,
    )
    terms_note = TextAreaField(
        _l("Your terms in words (optional)"), validators=[Optional(), Length(max=MAX_NOTE)]
    )
    is_bookable = BooleanField(_l("Open for online booking"), default=True)
    submit = SubmitField(_l("Save booking settings"))


class ClosureForm(FlaskForm):
    starts_on = DateField(_l("Closed from"), validators=[DataRequired()])
    ends_on = DateField(_l("Closed until"), validators=[DataRequired()])
    reason = StringField(
        _l("Reason (maintenance, holiday…)"), validators=[DataRequired(), Length(2, 200)]
    )
    submit = SubmitField(_l("Add closure"))


class RemoveForm(FlaskForm):
    submit = SubmitField(_l("Remove"))
