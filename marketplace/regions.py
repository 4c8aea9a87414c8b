"""Administrative divisions of China (GB/T 2260): codes to names, names to codes.

The one home of division names on the platform. The table (``data/gb2260.tsv``, revision
2019-04 of the Ministry of Civil Affairs, 3,219 divisions) is bundled so that pages, exports and
search work offline. Codes are six digits; a two- or four-digit prefix (``53``, ``5301``) stands for
its province or prefecture, as programmes and filters use them.

Municipalities have no prefecture row (110101 东城区 sits directly under 110000 北京市), so a
full name skips the missing level instead of inventing one.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import resources

_TABLE = "gb2260.tsv"


@cache
def _divisions() -> dict[str, str]:
    text = resources.files("marketplace").joinpath("data", _TABLE).read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {code: name for code, name in rows}


def normalise(code: str) -> str:
    """``"53"`` → ``"530000"``, ``"5301"`` → ``"530100"``; six digits unchanged.

    Raises ValueError for anything that is not 2, 4 or 6 digits.
    """
    code = code.strip()
    if not code.isdigit() or len(code) not in (2, 4, 6):
        raise ValueError(f"not a division code: {code!r}")
    return code.ljust(6, "0")


def name(code: str) -> str | None:
    """The name of exactly this division (``530102`` → 五华区), or None when unknown."""
    try:
        return _divisions().get(normalise(code))
    except ValueError:
        return None


def is_known(code: str) -> bool:
    return name(code) is not None


def _levels(code: str) -> Iterator[str]:
    six = normalise(code)
    yield six[:2] + "0000"
    if six[2:4] != "00":
        yield six[:4] + "00"
    if six[4:] != "00":
        yield six


def full_name(code: str) -> str:
    """``530102`` → 云南省昆明市五华区; ``53`` → 云南省; levels the table lacks are skipped.

    A code from an older revision (a county since merged) still gets its province and prefecture;
    an unknown or malformed code gives "".
    """
    try:
        levels = list(_levels(code))
    except ValueError:
        return ""
    known = _divisions()
    return "".join(known[level] for level in levels if level in known)


def label(code: str) -> str:
    """What a page shows for a code: its full name, or the code itself when unknown."""
    return full_name(code) or code


def province_code(code: str) -> str:
    return normalise(code)[:2]


def children(prefix: str) -> list[tuple[str, str]]:
    """The divisions one level below ``prefix`` (``53`` → Yunnan's 16 prefectures, ``5301`` →
    Kunming's counties), as (code, name) sorted by code; the codes are returned as prefixes
    (4 digits for prefectures, 6 for counties), the form filters take."""
    prefix = prefix.strip()
    if len(prefix) == 2:
        return [
            (code[:4], division)
            for code, division in sorted(_divisions().items())
            if code.startswith(prefix) and code[2:4] != "00" and code.endswith("00")
        ]
    if len(prefix) == 4:
        return [
            (code, division)
            for code, division in sorted(_divisions().items())
            if code.startswith(prefix) and not code.endswith("00")
        ]
    return []


def codes_matching(text: str, within: str = "") -> list[str]:
    """Codes (six digits) of the divisions whose name contains ``text`` — so a search for 五华
    or 大理 finds enterprises and providers registered there; limited to ``within`` (a prefix)."""
    needle = text.strip()
    if not needle:
        return []
    return sorted(
        code
        for code, division in _divisions().items()
        if needle in division and code.startswith(within)
    )


def province_prefixes() -> list[str]:
    """The two-digit codes of the 34 province-level divisions."""
    return sorted(code[:2] for code in _divisions() if code.endswith("0000"))
