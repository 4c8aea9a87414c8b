"""Revealing one field of personal data whole: an administrator, a reason, a fresh second
factor, an audit record (``providers/personal_data.py``)."""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.db import db_session
from providers import personal_data
from providers.schemas import RevealIn, RevealOut


@endpoint(
    bp,
    "/personal-data/reveal",
    "POST",
    roles=personal_data.REVEALERS,
    body=RevealIn,
    response=RevealOut,
    status=200,
    idempotent=False,
    step_up=True,
    tags=["personal data"],
    errors=[404],
    summary="Show one masked field (bank account, phone, e-mail) whole, with a reason",
    description="Every response shows personal data masked. An administrator who needs a "
    "whole value asks for it here with a reason; the reveal (field and reason, never the "
    "value) is recorded in the audit trail.",
)
def reveal(body: dict[str, Any]) -> personal_data.Revealed:
    return personal_data.reveal(
        db_session(),
        api_user(),
        body["subject_type"],
        body["subject_id"],
        body["field"],
        body["reason"],
    )
