"""Pieces every page's forms share: amounts typed in yuan, check-box lists, enum choices."""

from __future__ import annotations

from typing import Any

from flask_babel import LazyString
from wtforms import Field, SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import ValidationError

from marketplace.enums import LabelledEnum
from marketplace.i18n import _l, is_english
from marketplace.money import MoneyFormatError, parse_yuan


def label_of(member: LabelledEnum) -> str:
    """A vocabulary value's label in the page's language."""
    return member.en if is_english() else member.zh


def lazy_label(member: LabelledEnum) -> str:
    """``label_of`` evaluated when rendered: for choices declared with a form class."""
    return LazyString(label_of, member)


def enum_choices(enum_cls: type[LabelledEnum]) -> list[SelectChoice]:
    """Select options for a labelled enum: the stored value, labelled in the page's language
    (lazily: the choices are built once, with the form class, and rendered per request)."""
    return [SelectChoice(member.value, lazy_label(member)) for member in enum_cls]


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
