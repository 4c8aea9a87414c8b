"""Which user-facing strings lack a Chinese translation.

Extracts every msgid from the three packages (Python ``_``/``_l``/``gettext``/``lazy_gettext``
and Jinja templates) and checks it against the merged zh catalogues. Run as a script to list
what is missing: ``.venv/bin/python -m tests.support.i18n``.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("marketplace", "vouchers", "providers")
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def extracted_msgids() -> dict[str, str]:
    """msgid → first place it appears."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / package, METHOD_MAP, keywords=KEYWORDS
        ):
            ids = message if isinstance(message, tuple) else (message,)
            for msgid in ids:
                if msgid:
                    found.setdefault(msgid, f"{package}/{filename}:{lineno}")
    return found


def translated_msgids() -> dict[str, str]:
    translated: dict[str, str] = {}
    for package in PACKAGES:
        po = ROOT / package / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                key = message.id if isinstance(message.id, str) else message.id[0]
                translated[key] = (
                    message.string if isinstance(message.string, str) else message.string[0]
                )
    return translated


def missing() -> dict[str, str]:
    done = translated_msgids()
    return {msgid: where for msgid, where in extracted_msgids().items() if msgid not in done}


if __name__ == "__main__":
    for msgid, where in sorted(missing().items(), key=lambda kv: kv[1]):
        print(f"{where}\t{msgid!r}")
