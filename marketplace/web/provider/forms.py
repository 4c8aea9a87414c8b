"""Forms of the provider portal (Flask-WTF, CSRF-protected)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.enums import ServiceCategory
from marketplace.i18n import _l
from marketplace.money import MoneyFormatError, parse_yuan
from marketplace.web.forms import enum_choices
from providers.enums import AccreditationLevel, DocumentKind, PricingMode, RelationKind


class SafeForm(FlaskForm):
    """Refuses text containing NUL characters (PostgreSQL cannot store them) as a field error
    instead of failing at the database."""

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and "\x00" in field.data:
                field.errors = [*field.errors, _l("Contains characters that are not allowed.")]
                valid = False
        return valid


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _yuan(_form: FlaskForm, field: StringField) -> None:
    text = (field.data or "").strip()
    if not text:
        field.fen = None
        return
    try:
        field.fen = parse_yuan(text)
    except MoneyFormatError:
        raise ValidationError(_l("An amount in yuan, e.g. 800 or 800.50")) from None


class ProfileForm(SafeForm):
    version = HiddenField()
    accreditation_level = SelectField(
        _l("Accreditation level"),
        choices=[SelectChoice("", "—"), *enum_choices(AccreditationLevel)],
        validators=[Optional()],
    )
    service_categories = MultiCheckboxField(
        _l("Service categories"), choices=enum_choices(ServiceCategory)
    )
    description = TextAreaField(_l("About the institution"), validators=[Length(max=5000)])
    address = StringField(_l("Registered address"), validators=[Length(max=300)])
    legal_rep_name = StringField(_l("Legal representative"), validators=[Length(max=100)])
    legal_rep_id_number = StringField(
        _l("Legal representative's ID number"), validators=[Length(max=30)]
    )
    website = StringField(_l("Website"), validators=[Length(max=300)])
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(max=100)])
    contact_phone = StringField(_l("Contact phone"), validators=[DataRequired(), Length(max=40)])
    contact_email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    bank_account_name = StringField(_l("Account name"), validators=[Length(max=200)])
    bank_name = StringField(_l("Bank and branch"), validators=[Length(max=200)])
    bank_account_number = StringField(_l("Account number"), validators=[Length(max=60)])
    submit = SubmitField(_l("Save"))

    def changes(self) -> dict[str, Any]:
        return {
            name: getattr(self, name).data
            for name in (
                "accreditation_level",
                "service_categories",
                "description",
                "address",
                "website",
                "contact_name",
                "contact_phone",
                "contact_email",
                "bank_account_name",
                "bank_name",
                "bank_account_number",
                "legal_rep_name",
                "legal_rep_id_number",
            )
        }


class QualificationForm(SafeForm):
    number = StringField(_l("Number"), validators=[DataRequired(), Length(max=60)])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    scope = TextAreaField(
        _l("Scope (test items and standards covered)"),
        validators=[Optional(), Length(max=2000)],
    )
    submit = SubmitField(_l("Save"))


class DocumentForm(SafeForm):
    kind = SelectField(
        _l("Document"), choices=enum_choices(DocumentKind), validators=[DataRequired()]
    )
    expires_on = DateField(_l("Expires on"), validators=[Optional()])
    file = FileField(_l("File (PDF, PNG or JPEG)"), validators=[FileRequired()])
    submit = SubmitField(_l("Upload"))


class CommitmentForm(SafeForm):
    signer_name = StringField(_l("Signed by"), validators=[DataRequired(), Length(max=100)])
    signer_title = StringField(_l("Position"), validators=[DataRequired(), Length(max=100)])
    agreed = BooleanField(_l("I have read the commitment and sign it for the institution"))
    submit = SubmitField(_l("Sign"))


class ProgrammesForm(SafeForm):
    programme_ids = MultiCheckboxField(_l("Programmes"), coerce=int, choices=[])
    submit = SubmitField(_l("Save"))


class ServiceForm(SafeForm):
    version = HiddenField()
    title = StringField(_l("Service name"), validators=[DataRequired(), Length(max=200)])
    category = SelectField(_l("Category"), choices=enum_choices(ServiceCategory))
    description = TextAreaField(_l("Description"), validators=[DataRequired(), Length(max=5000)])
    pricing = SelectField(_l("Pricing"), choices=enum_choices(PricingMode))
    price = StringField(_l("Price (yuan)"), validators=[_yuan])
    unit = StringField(_l("Unit (e.g. sample, item)"), validators=[Length(max=20)])
    lead_time_days = IntegerField(
        _l("Lead time (days)"), validators=[InputRequired(), NumberRange(min=1, max=365)]
    )
    instrument_name = StringField(_l("Instrument"), validators=[Length(max=200)])
    model = StringField(_l("Model"), validators=[Length(max=100)])
    manufacturer = StringField(_l("Manufacturer"), validators=[Length(max=100)])
    location = StringField(_l("Location"), validators=[Length(max=200)])
    hourly_rate = StringField(_l("Hourly rate (yuan)"), validators=[_yuan])
    booking_notes = TextAreaField(_l("Booking notes"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Save"))

    def values(self) -> dict[str, Any]:
        """Service input as providers.presenters.service_input reads it."""
        instrument = None
        if self.category.data == ServiceCategory.INSTRUMENT_SHARING.value:
            instrument = {
                "instrument_name": self.instrument_name.data or "",
                "model": self.model.data or "",
                "manufacturer": self.manufacturer.data or None,
                "location": self.location.data or "",
                "hourly_rate_fen": getattr(self.hourly_rate, "fen", None) or 0,
                "booking_notes": self.booking_notes.data or None,
            }
        return {
            "title": self.title.data or "",
            "category": self.category.data,
            "description": self.description.data or "",
            "pricing": self.pricing.data,
            "price_fen": getattr(self.price, "fen", None),
            "unit": self.unit.data or "",
            "lead_time_days": self.lead_time_days.data,
            "instrument": instrument,
        }


class RelatedPartyForm(SafeForm):
    credit_code = StringField(
        _l("Unified social credit code"), validators=[DataRequired(), Length(max=40)]
    )
    name = StringField(_l("Enterprise name"), validators=[DataRequired(), Length(max=200)])
    relation = SelectField(_l("Relationship"), choices=enum_choices(RelationKind))
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Declare"))


class ReasonForm(SafeForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Confirm"))
