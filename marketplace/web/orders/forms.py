"""Forms of the order pages. Every form carries the CSRF token; steps carry the order version
they were rendered with, so a stale page is refused (412) instead of acting on a changed order."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.i18n import _l
from marketplace.orders.core import MAX_TEXT
from marketplace.orders.disputes import MAX_MESSAGE
from marketplace.orders.enums import Outcome
from marketplace.orders.services import MAX_QUANTITY
from marketplace.parsing import form_version
from marketplace.web.forms import YuanField


class _Versioned(FlaskForm):
    version = HiddenField()

    def expected_version(self) -> int | None:
        return form_version(self.version.data)


class RequestForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"), default=1, validators=[InputRequired(), NumberRange(1, MAX_QUANTITY)]
    )
    note = TextAreaField(
        _l("What do you need? (samples, deadlines, standards)"),
        validators=[Optional(), Length(max=MAX_TEXT)],
    )


class QuoteForm(_Versioned):
    price = YuanField(_l("Final price (yuan)"))
    note = TextAreaField(_l("Notes on the quote"), validators=[Optional(), Length(max=MAX_TEXT)])


class ReasonForm(_Versioned):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=MAX_MESSAGE)])


class AcceptForm(_Versioned):
    voucher_id = SelectField(_l("Pay with voucher"), coerce=str, validate_choice=True)
    requested = YuanField(_l("Use at most this much of the voucher (yuan, optional)"))
    agree = BooleanField(
        _l("I accept the service agreement: the price, the voucher part and my co-payment"),
        validators=[DataRequired()],
    )


class DeliverForm(_Versioned):
    """The invoice is its file (read by the platform); the typed fields only serve a
    paper-era invoice, which is then checked by hand at the claim."""

    invoice_file = FileField(_l("Invoice file (数电发票: XML or OFD, or its PDF)"))
    invoice_pdf = FileField(_l("Its PDF as well (optional)"))
    invoice_code = StringField(
        _l("Invoice code (10 or 12 digits; empty for fully digital invoices)"),
        validators=[Optional(), Length(max=12)],
    )
    invoice_number = StringField(
        _l("Invoice number (8 or 20 digits)"), validators=[Optional(), Length(max=20)]
    )
    issued_on = DateField(_l("Invoice date"), validators=[Optional()])
    amount = YuanField(_l("Invoice amount (yuan)"), validators=[Optional()])
    buyer_taxpayer_id = StringField(
        _l("Buyer's taxpayer id (the enterprise's credit code)"),
        validators=[Optional(), Length(max=20)],
    )
    seller_taxpayer_id = StringField(
        _l("Seller's taxpayer id (your credit code)"), validators=[Optional(), Length(max=20)]
    )
    report = FileField(_l("Service report (PDF, PNG or JPEG)"), validators=[FileRequired()])
    note = TextAreaField(_l("Delivery notes"), validators=[Optional(), Length(max=MAX_TEXT)])

    #: The delivery service's names for the typed invoice's fields (see ``forms.place_error``).
    error_fields = {"code": "invoice_code", "number": "invoice_number", "amount_fen": "amount"}

    TYPED = (
        "invoice_number",
        "issued_on",
        "amount",
        "buyer_taxpayer_id",
        "seller_taxpayer_id",
    )

    @property
    def has_file(self) -> bool:
        return bool(self.invoice_file.data and self.invoice_file.data.filename)

    @property
    def typed(self) -> bool:
        """Whether a paper invoice was entered: its number is the one field never prefilled
        (the amount, the parties and the date are, to save typing)."""
        return bool((self.invoice_number.data or "").strip())

    def validate(self, extra_validators: object = None) -> bool:
        ok = super().validate(extra_validators)
        if self.has_file or not self.typed:
            return ok  # the file is read by the service; nothing at all: the service says so
        for name in self.TYPED:
            field = getattr(self, name)
            if field.data in (None, ""):
                field.errors = [*field.errors, _l("Needed for a paper invoice.")]
                ok = False
        return ok


class StepForm(_Versioned):
    """A step that needs nothing but the button (confirm)."""


class RateForm(FlaskForm):
    stars = SelectField(
        _l("Rating"),
        choices=[SelectChoice(str(n), "★" * n) for n in range(5, 0, -1)],
        validators=[DataRequired()],
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])


class RefundForm(_Versioned):
    bank_reference = StringField(
        _l("Bank reference of the refund transfer"), validators=[Optional(), Length(max=100)]
    )


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=MAX_MESSAGE)])


class RedLetterForm(FlaskForm):
    invoice_file = FileField(
        _l("Red-letter invoice file (XML or OFD, or its PDF)"), validators=[FileRequired()]
    )
    invoice_pdf = FileField(_l("Its PDF as well (optional)"))


class DocumentForm(FlaskForm):
    document = FileField(_l("Document (PDF, PNG or JPEG)"), validators=[FileRequired()])


class DecisionForm(_Versioned):
    outcome = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(Outcome.DISMISS.value, _l("Dismiss: the delivery stands")),
            SelectChoice(Outcome.UPHOLD_PARTIAL.value, _l("Uphold in part: lower the price")),
            SelectChoice(Outcome.UPHOLD_FULL.value, _l("Uphold in full: refund everything")),
        ],
        validators=[DataRequired()],
    )
    refund = YuanField(_l("Co-payment refunded to the enterprise (yuan)"))
    restore = YuanField(_l("Voucher part restored to the voucher (yuan)"))
    note = TextAreaField(
        _l("Reasons for the decision"), validators=[DataRequired(), Length(max=MAX_MESSAGE)]
    )
