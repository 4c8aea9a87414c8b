"""Money is integer fen (分). These helpers parse and show it; nothing here uses floats."""

from __future__ import annotations

import re

FEN_PER_YUAN = 100
_YUAN_PATTERN = re.compile(r"^(?P<int>\d{1,15})(?:\.(?P<frac>\d{1,2}))?$")


class MoneyFormatError(ValueError):
    """A money amount could not be read."""


def format_fen(fen: int, *, symbol: bool = True, grouping: bool = True) -> str:
    """``123456`` → ``¥1,234.56``; negative amounts keep their sign in front. Without symbol
    and grouping (``1234.56``) it is what a person types into a form."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("money is integer fen")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    whole = f"{yuan:,}" if grouping else str(yuan)
    return f"{sign}{'¥' if symbol else ''}{whole}.{cents:02d}"


def format_bps(bps: int) -> str:
    """A share in basis points as a percentage, exact: ``5000`` → ``50%``, ``3333`` →
    ``33.33%``, ``2550`` → ``25.5%``."""
    whole, hundredths = divmod(bps, 100)
    return f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".") + "%"


def parse_yuan(text: str) -> int:
    """Read a yuan amount typed by a person (``"1,234.5"``, ``"¥30000"``) into fen.

    Raises MoneyFormatError for anything that is not a plain non-negative amount with at
    most two decimals: we never round what a person typed.
    """
    cleaned = text.strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
    match = _YUAN_PATTERN.match(cleaned)
    if not match:
        raise MoneyFormatError(f"not an amount in yuan with at most two decimals: {text!r}")
    frac = (match.group("frac") or "").ljust(2, "0")
    return int(match.group("int")) * FEN_PER_YUAN + int(frac or 0)
