"""Compose a bilingual e-mail from a template: subject "中文 / English", Chinese body first."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from marketplace.money import format_fen

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
BLOCKS = ("subject_zh", "subject_en", "body_zh", "body_en")
SEPARATOR = "\n\n" + "-" * 40 + "\n\n"


class TemplateProblem(ValueError):
    """An e-mail template is missing, lacks a block, or uses a variable not given."""


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fen"] = format_fen
    return env


def compose(template: str, context: Mapping[str, Any]) -> Composed:
    """Render ``template`` with ``context``; raise TemplateProblem on any gap."""
    try:
        tmpl = _environment().get_template(f"{template}.txt")
    except jinja2.TemplateNotFound:
        raise TemplateProblem(f"no e-mail template {template!r}") from None
    missing = [b for b in BLOCKS if b not in tmpl.blocks]
    if missing:
        raise TemplateProblem(f"e-mail template {template!r} lacks blocks {missing}")
    ctx = tmpl.new_context(dict(context))
    try:
        parts = {name: "".join(tmpl.blocks[name](ctx)).strip() for name in BLOCKS}
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"e-mail template {template!r}: {exc.message}") from None
    subject = " ".join(f"{parts['subject_zh']} / {parts['subject_en']}".split())
    return Composed(subject=subject, body=parts["body_zh"] + SEPARATOR + parts["body_en"] + "\n")
