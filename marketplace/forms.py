"""Small shared pieces for Flask-WTF forms."""

from __future__ import annotations

from wtforms import SelectChoice

from marketplace.enums import LabelledEnum


def enum_choices(enum_cls: type[LabelledEnum]) -> list[SelectChoice]:
    """Select options for a labelled enum: the stored value, labelled "中文 English"."""
    return [SelectChoice(member.value, member.label) for member in enum_cls]
