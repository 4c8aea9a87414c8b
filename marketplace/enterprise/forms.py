"""Forms of the SME portal, and two field types the voucher admin pages share."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    Field,
    HiddenField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from marketplace.i18n import _l
from marketplace.money import MoneyFormatError, parse_yuan


class YuanField(StringField):
    """An amount typed in yuan ("12,345.60"); ``fen`` holds it in integer fen once valid.

    Reading never rounds: more than two decimals is an error, not a rounding.
    """

    fen: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.fen = None
        raw = (self.data or "").strip()
        if not raw:
            return
        try:
            self.fen = parse_yuan(raw)
        except MoneyFormatError:
            raise ValidationError(
                _l("Enter an amount in yuan with at most two decimals, e.g. 12,345.60")
            ) from None


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of check boxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def fen_of(field: Field) -> int:
    """The parsed amount of a validated YuanField."""
    assert isinstance(field, YuanField) and field.fen is not None
    return field.fen


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
    version = HiddenField(validators=[InputRequired()])


__all__ = [
    "ApplyForm",
    "ClarificationResponseForm",
    "MultiCheckboxField",
    "ProfileForm",
    "YuanField",
    "fen_of",
]
