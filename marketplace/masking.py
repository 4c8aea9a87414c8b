"""Personal data shown masked: the one place that decides how much of a value a page shows.

Bank account numbers, phone numbers, e-mail addresses, ID numbers and personal names are shown
masked by default to every role (rule 11 of the policy: personal data only to who needs it).
Each function keeps just enough to recognise the value (the last four digits of an account, the
first letter of a mailbox) and never reveals its length beyond the visible groups.

Who may see more is decided in two ways only: finance sees a provider's whole account on the
payout screens and in the bank file (the views say so with :func:`show_in_full`, for the rest
of the request), and anyone else entitled reveals one field explicitly, with a reason, after a
fresh second factor, recorded in the audit trail (``providers/personal_data.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import g, has_app_context

_DIGITS = re.compile(r"\D")
MASK = "*"


def bank_account(number: str | None) -> str:
    """``6228480012345670001`` → ``6228 **** **** 0001``."""
    digits = _DIGITS.sub("", number or "")
    if len(digits) <= 8:
        return MASK * 4 if digits else ""
    return f"{digits[:4]} **** **** {digits[-4:]}"


def phone(number: str | None) -> str:
    """``13800138000`` → ``138****8000``; landlines ``0871-65123456`` → ``0871****3456``."""
    digits = _DIGITS.sub("", number or "")
    if len(digits) < 7:
        return MASK * 4 if digits else ""
    return f"{digits[:3] if len(digits) == 11 else digits[:4]}****{digits[-4:]}"


def email(address: str | None) -> str:
    """``zhang.wei@example.cn`` → ``z***@example.cn``."""
    if not address or "@" not in address:
        return MASK * 3 if address else ""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def id_number(number: str | None) -> str:
    """A resident ID ``53010219900101123X`` → ``5301**********123X``: the region of issue and
    the last four characters, never the birth date."""
    text = (number or "").strip()
    if len(text) <= 8:
        return MASK * 4 if text else ""
    return f"{text[:4]}{MASK * (len(text) - 8)}{text[-4:]}"


def person_name(name: str | None) -> str:
    """``张伟`` → ``张*``, ``欧阳小明`` → ``欧***``; Latin names keep their first letter."""
    text = (name or "").strip()
    if len(text) <= 1:
        return text
    return text[0] + MASK * (len(text) - 1)


def organisation_name(name: str | None) -> str:
    """``昆明滇池科技有限公司`` → ``昆明******公司``: the first two and the last two characters,
    enough for a provider to match the holder it is dealing with, not enough to find an
    enterprise the reader does not already know."""
    text = (name or "").strip()
    if len(text) <= 2:
        return text[:1] + MASK * (len(text) - 1) if text else ""
    if len(text) <= 4:
        return text[0] + MASK * (len(text) - 1)
    return text[:2] + MASK * (len(text) - 4) + text[-2:]


#: The maskers by kind of personal data, for the fields and templates that mask generically.
MASKERS: dict[str, Callable[[str | None], str]] = {
    "bank_account": bank_account,
    "phone": phone,
    "email": email,
    "id_number": id_number,
    "person_name": person_name,
}


def show_in_full(*kinds: str) -> None:
    """For the rest of this request (or command), values of ``kinds`` are shown whole: the
    payout screens and the bank file, where finance needs the account to pay it."""
    g.masking_full = frozenset(g.get("masking_full", frozenset())) | frozenset(kinds)


def shown(kind: str, value: str | None) -> str | None:
    """``value`` as this request may show it: masked unless :func:`show_in_full` allowed
    ``kind``. None stays None."""
    if value is None:
        return None
    if has_app_context() and kind in g.get("masking_full", frozenset()):
        return value
    return MASKERS[kind](value)
