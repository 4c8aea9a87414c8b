"""What the pages and the API show of the provider domain, assembled once for both.

No Flask here: these take a session and return plain objects the schemas and templates read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from marketplace.enums import ServiceCategory
from providers.bank_changes import pending_change
from providers.catalogue import InstrumentInput, ServiceInput
from providers.credit import CreditBreakdown
from providers.enums import PricingMode
from providers.evidence import pending_qualification_changes
from providers.models import Provider
from providers.rules import COMMITMENT_TEXT, COMMITMENT_VERSION, commitment_digest
from providers.schemas import Extended
from providers.services import (
    current_commitment,
    missing_for_submission,
    open_programmes,
    participations,
)


def provider_file(session: Session, provider: Provider, today: date) -> Extended:
    """The provider with its history, programmes, a settlement account change awaiting
    approval, qualification changes awaiting a reviewer, and what the application lacks."""
    session.refresh(provider)
    return Extended(
        provider,
        pending_bank_change=pending_change(session, provider.id),
        pending_qualification_changes=pending_qualification_changes(session, provider.id),
        history=list(provider.history),
        programmes=participations(session, provider.id),
        missing=missing_for_submission(session, provider, today),
    )


def credit_view(breakdown: CreditBreakdown) -> dict[str, Any]:
    return {
        "score": breakdown.score,
        "band": breakdown.band,
        "band_zh": breakdown.band_zh,
        "band_en": breakdown.band_en,
        "enterprises": breakdown.enterprises,
        "administrators": breakdown.administrators,
        "third_parties": breakdown.third_parties,
        "combined": breakdown.combined,
        "penalty": breakdown.penalty,
        "rating_count": breakdown.inputs.rating_count,
        "upheld_disputes": breakdown.inputs.upheld_disputes,
        "late_deliveries": breakdown.inputs.late_deliveries,
    }


def commitment_view(session: Session, provider_id: int) -> dict[str, Any]:
    signed = current_commitment(session, provider_id)
    return {
        "version": COMMITMENT_VERSION,
        "text": COMMITMENT_TEXT,
        "sha256": commitment_digest(),
        "signed": signed is not None,
        "signer_name": signed.signer_name if signed else None,
        "signer_title": signed.signer_title if signed else None,
        "signed_at": signed.signed_at if signed else None,
    }


def programme_choices(session: Session, provider: Provider, today: date) -> list[dict[str, Any]]:
    """Open programmes with the provider's standing in each (None: not applied)."""
    standing = {p.programme_id: p.status for p in participations(session, provider.id)}
    return [
        {
            "programme_id": programme.id,
            "name": programme.name,
            "kind": programme.kind.value,
            "year": programme.year,
            "notice_days": programme.notice_days,
            "eligible_categories": list(programme.eligible_categories or []),
            "status": standing.get(programme.id),
        }
        for programme in open_programmes(session, today)
    ]


def service_input(data: dict[str, Any]) -> ServiceInput:
    """A ServiceInput from loaded API data (or a form's cleaned values). Without an explicit
    ``pricing``, a null price means a quote on request."""
    instrument = data.get("instrument")
    price = data.get("price_fen")
    pricing = data.get("pricing") or (PricingMode.QUOTE if price is None else PricingMode.FIXED)
    return ServiceInput(
        title=data["title"],
        category=ServiceCategory(data["category"]),
        description=data["description"],
        pricing=PricingMode(pricing),
        price_fen=price,
        unit=data.get("unit") or "",
        lead_time_days=data["lead_time_days"],
        instrument=InstrumentInput(**instrument) if instrument else None,
    )


def instrument_input(data: dict[str, Any]) -> ServiceInput:
    """An instrument-sharing ServiceInput from loaded API data (price from the hourly rate)."""
    return ServiceInput(
        title=data["title"],
        category=ServiceCategory.INSTRUMENT_SHARING,
        description=data["description"],
        pricing=PricingMode.FIXED,
        price_fen=data["instrument"]["hourly_rate_fen"],
        unit="",
        lead_time_days=data["lead_time_days"],
        instrument=InstrumentInput(**data["instrument"]),
    )
