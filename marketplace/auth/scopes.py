"""What an API token may do: one scope per area and level (read or write).

Every API operation needs exactly one scope (``marketplace/api/scopes.py`` maps them); a token
carries a list of them. ``write`` includes ``read`` of the same area. A token made before
scopes existed has none stored (NULL) and keeps its user's full power until it is rotated.
A scope never adds power: the token's user's role still decides what the token can reach.
"""

from __future__ import annotations

from collections.abc import Iterable

from marketplace.errors import ValidationFailed

#: The areas, each with what it covers (shown on the account page and in the OpenAPI document).
AREAS: dict[str, str] = {
    "account": "your own account, tokens and organisation file (profile, admission file)",
    "vouchers": "programmes, budgets, voucher applications, vouchers, the wallet, the ledger",
    "orders": "orders, quotes, disputes, instrument bookings, outcomes, service listings",
    "settlement": "claims, payout batches, payments and refunds, bank-account changes",
    "administration": "enterprise and provider reviews, freezes, risk, audit trail, statistics",
}
LEVELS = ("read", "write")
ALL_SCOPES: tuple[str, ...] = tuple(f"{area}:{level}" for area in AREAS for level in LEVELS)
READ_SCOPES: tuple[str, ...] = tuple(f"{area}:read" for area in AREAS)


def scope(area: str, level: str) -> str:
    """The scope ``area:level``; raises ValueError for an unknown area or level."""
    if area not in AREAS or level not in LEVELS:
        raise ValueError(f"unknown scope {area}:{level}")
    return f"{area}:{level}"


def normalise(requested: Iterable[str] | None) -> list[str]:
    """The scopes to store for a new token: every scope when none were asked for, otherwise
    the ones asked for (sorted, once each). Raises ValidationFailed for an unknown one."""
    if requested is None:
        return sorted(ALL_SCOPES)
    chosen = sorted(set(requested))
    unknown = [s for s in chosen if s not in ALL_SCOPES]
    if unknown:
        raise ValidationFailed(
            "unknown scope / 未知的权限范围", {"scopes": [f"unknown: {', '.join(unknown)}"]}
        )
    if not chosen:
        raise ValidationFailed(
            "choose at least one scope / 请至少选择一项权限", {"scopes": ["at least one"]}
        )
    return chosen


def grants(held: Iterable[str] | None, needed: str) -> bool:
    """Whether a token holding ``held`` (None: a token from before scopes, full power) may
    use an operation that needs ``needed``; write includes read of the same area."""
    if held is None:
        return True
    held = set(held)
    area, _, level = needed.partition(":")
    return needed in held or (level == "read" and f"{area}:write" in held)
