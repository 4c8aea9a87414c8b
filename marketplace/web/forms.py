"""Pieces every page's forms share: amounts typed in yuan, check-box lists, enum choices,
and domain errors placed at the fields they are about."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash
from flask_babel import LazyString
from wtforms import Field, SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import ValidationError

from marketplace.enums import LabelledEnum
from marketplace.errors import DomainError, ValidationFailed
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


def place_error(form: Any, exc: DomainError, fields: Mapping[str, str] | None = None) -> list[str]:
    """Put a domain error's messages at the form fields they are about.

    A service names the field in its own terms (``price_fen``, ``number``); the form's field
    is found by, in order: ``fields`` (the caller's own mapping for this request, e.g. the
    invoice's fields to the invoice file when the invoice was read from it), the form's
    ``error_fields`` mapping, the same name, and the name without ``_fen`` (amounts are typed
    in yuan). Returns the messages that found no field, for the page's top.
    """
    errors: dict[str, list[str]] = {}
    if isinstance(exc, ValidationFailed) and exc.errors:
        errors = {name: list(messages) for name, messages in exc.errors.items()}
    elif exc.field:
        errors = {exc.field: [exc.message]}
    aliases = {**getattr(form, "error_fields", {}), **(fields or {})}
    unplaced: list[str] = []
    for name, messages in errors.items():
        field = None
        if form is not None:
            for candidate in (aliases.get(name), name, name.removesuffix("_fen")):
                found = getattr(form, candidate, None) if candidate else None
                if isinstance(found, Field):
                    field = found
                    break
        if field is None:
            unplaced += messages
            continue
        field.errors = [*field.errors, *(m for m in messages if m not in field.errors)]
    return unplaced


def show_error(exc: DomainError, form: Any = None, fields: Mapping[str, str] | None = None) -> None:
    """A refused form: the message at the page's top, and each detail at its field
    (:func:`place_error`); details no field takes are shown at the top too."""
    flash(exc.message, "error")
    for message in place_error(form, exc, fields):
        if message != exc.message:
            flash(message, "error")
