"""Translation helpers usable from domain code without a request (lazy strings), and the
choice of one language for a page.

Domain errors carry both languages in one message ("中文 / English") because the API answers
either audience; a page shows one side of it (:func:`one_language`)."""

from __future__ import annotations

import re

from flask import has_request_context
from flask_babel import get_locale, gettext, lazy_gettext, ngettext

_ = gettext
_l = lazy_gettext

_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
_SEPARATOR = " / "
_LABEL = re.compile(r"^[^\u3400-\u9fff]*?: ")

__all__ = ["_", "_l", "gettext", "is_english", "lazy_gettext", "ngettext", "one_language"]


def is_english() -> bool:
    """Whether the current page is in English (Chinese outside a request)."""
    return has_request_context() and str(get_locale()) == "en"


def one_language(text: str) -> str:
    """The side of a bilingual ``中文 / English`` message in the page's language.

    A message is split at the first " / " whose left side has Chinese and right side has none
    (a path or a fraction inside the English part stays whole); anything else is returned as
    it is.
    """
    text = str(text)
    cuts = [m.start() for m in re.finditer(re.escape(_SEPARATOR), text)]
    # The English side has no Chinese, or else (it names a region or a company) it is the
    # last separator followed by a Latin letter.
    chosen = next(
        (at for at in cuts if _CJK.search(text[:at]) and not _CJK.search(text[at + 3 :])), None
    )
    if chosen is None:
        chosen = next(
            (
                at
                for at in reversed(cuts)
                if _CJK.search(text[:at])
                and text[at + 3 : at + 4].isascii()
                and text[at + 3 : at + 4].isalpha()
            ),
            None,
        )
    if chosen is None:
        return text
    zh, en = text[:chosen], text[chosen + len(_SEPARATOR) :]
    if not is_english():
        return zh
    # "row 2: 中文 / English" keeps its Latin label ("row 2: ") in English too.
    label = _LABEL.match(zh)
    return (label.group(0) if label else "") + en
