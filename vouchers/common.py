"""Small helpers shared by the voucher services: guarded lookups and text cleaning."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from marketplace.errors import ReasonRequired, ValidationFailed

MAX_TEXT = 2000
#: Ids are BIGINT; a larger number cannot name a row (and SQLite cannot even bind it).
MAX_ID = 2**63 - 1
T = TypeVar("T")


def clean_text(
    value: str | None, field: str, *, required: bool = True, limit: int = MAX_TEXT
) -> str:
    """``value`` trimmed; raises ReasonRequired when required and blank, ValidationFailed
    when longer than ``limit`` or holding a NUL."""
    cleaned = (value or "").strip()
    refuse_nul(cleaned, field)
    if required and not cleaned:
        raise ReasonRequired(f"请填写{field} / {field} is required", field=field)
    if len(cleaned) > limit:
        raise ValidationFailed(
            f"{field} is too long", {field: [f"at most {limit} characters / 最多{limit}个字符"]}
        )
    return cleaned


def refuse_nul(value: str | None, field: str) -> None:
    """PostgreSQL cannot store NUL characters; refuse them as a field error (a browser or a
    script can send one), never let them reach the database as a server error."""
    if value and "\x00" in value:
        raise ValidationFailed(
            f"{field} contains a NUL character",
            {field: ["must not contain NUL characters / 含有无效字符"]},
        )


def fetch(session: Session, model: type[T], ident: int, *, lock: bool = False) -> T | None:
    """``session.get`` that answers None for ids no row can have. With ``lock`` the row is
    read afresh under ``SELECT … FOR UPDATE`` (not the copy the session already holds)."""
    if not 0 < ident <= MAX_ID:
        return None
    return session.get(model, ident, with_for_update=lock, populate_existing=lock)
