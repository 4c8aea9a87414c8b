"""Reading whole numbers typed by people or sent in headers and files.

``str.isdigit()`` is true for "²", "٣" and other Unicode digits that ``int()`` either refuses
(a 500 where a 4xx was due) or reads as a number nobody typed, and it puts no bound on the
length. Every place that turns text into an id or a version number goes through here.
"""

from __future__ import annotations

import re

#: 18 ASCII digits always fit in a signed 64-bit column (PostgreSQL BIGINT).
MAX_DIGITS = 18
_ASCII_DIGITS = re.compile(r"[0-9]+")


def ascii_int(raw: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The number ``raw`` spells in 1 to ``max_digits`` ASCII digits (surrounding blanks
    ignored), else None. Signs, spaces inside, Unicode digits and longer input are refused."""
    if raw is None:
        return None
    text = raw.strip()
    if not 0 < len(text) <= max_digits or not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)


#: A version no row ever has: services answer it with 412 precondition_failed.
NO_SUCH_VERSION = -1


def form_version(raw: str | None) -> int | None:
    """A form's hidden ``version`` field: None when left out (no check), the number, or
    NO_SUCH_VERSION when it holds anything else, so a tampered field is refused with 412
    rather than skipped."""
    if raw is None or not raw.strip():
        return None
    number = ascii_int(raw)
    return NO_SUCH_VERSION if number is None else number
