"""Which token scope each API operation needs (the vocabulary is ``marketplace.auth.scopes``).

An operation's area comes from the module that declares it; its level is ``read`` for GET and
``write`` for everything else. The few operations that differ name their scope in
``@endpoint(scope=...)``. A module missing here cannot declare an operation (the decorator
raises at import), so a new area cannot slip in without a scope.
"""

from __future__ import annotations

from marketplace.auth.scopes import scope

AREA_OF_MODULE: dict[str, str] = {
    "accounts": "account",
    "provider_portal": "account",
    "programmes": "vouchers",
    "vouchers": "vouchers",
    "catalogue": "orders",
    "disputes": "orders",
    "instruments": "orders",
    "orders": "orders",
    "outcomes": "orders",
    "provider_listings": "orders",
    "payments": "settlement",
    "settlement": "settlement",
    "audit": "administration",
    "dashboard": "administration",
    "disclosure": "administration",
    "enterprises": "administration",
    "freezes": "administration",
    "funders": "administration",
    "personal_data": "administration",
    "provider_admin": "administration",
    "provider_reviews": "administration",
    "risk": "administration",
}


def required_scope(module: str, method: str, explicit: str | None) -> str:
    """The scope an operation declared in ``module`` (its dotted name) with ``method`` needs."""
    if explicit is not None:
        area, _, level = explicit.partition(":")
        return scope(area, level)
    name = module.rsplit(".", 1)[-1]
    if name not in AREA_OF_MODULE:
        raise LookupError(f"API module {module} has no scope area: add it to AREA_OF_MODULE")
    return scope(AREA_OF_MODULE[name], "read" if method == "GET" else "write")
