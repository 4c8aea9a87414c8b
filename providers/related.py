"""Related-party declarations, and the gate every order passes: :func:`ensure_orderable`.

A provider declares the enterprises it is affiliated with (by unified social credit code).
An order is refused when the enterprise is one of them, or when the enterprise and the
provider share a credit code, so vouchers cannot be spent inside one group of companies.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.db import utcnow
from marketplace.errors import NotFound, ValidationFailed
from providers.errors import (
    CategoryNotAdmitted,
    CategoryNotEligible,
    DuplicateDeclaration,
    InvalidCreditCode,
    NotInProgramme,
    ProviderNotAdmitted,
    ProviderRevoked,
    ProviderSuspended,
    RelatedPartyConflict,
    ServiceInactive,
)
from providers.models import (
    ParticipationStatus,
    ProgrammeParticipation,
    Provider,
    ProviderStatus,
    RelatedParty,
    RelationKind,
    Service,
)
from providers.rules import clean_reason
from vouchers.models import Enterprise, Programme


def declare_related_party(
    session: Session,
    provider: Provider,
    *,
    credit_code: str,
    name: str,
    relation: RelationKind,
    note: str | None,
    actor_id: int | None,
) -> RelatedParty:
    """Declare an affiliated enterprise (a withdrawn declaration is declared again).

    Raises InvalidCreditCode (naming the rule of GB 32100-2015 that failed), ValidationFailed,
    DuplicateDeclaration.
    """
    try:
        code = parse_credit_code(credit_code).value
    except CreditCodeError as exc:
        raise InvalidCreditCode(
            exc.message, field="credit_code", extra={"rule": exc.code}
        ) from None
    errors: dict[str, list[str]] = {}
    clean_name = name.strip()
    if not 2 <= len(clean_name) <= 200:
        errors["name"] = ["企业名称 2–200 字 / the enterprise's name, 2–200 characters"]
    if code == provider.credit_code:
        errors["credit_code"] = [
            "这是本机构自己的代码，无须申报 / this is your own code; it is always refused"
        ]
    text = (note or "").strip() or None
    if text is not None and len(text) > 2000:
        errors["note"] = ["不超过2000字 / at most 2000 characters"]
    if errors:
        raise ValidationFailed("申报信息有误 / the declaration has invalid fields", errors)
    row = session.scalar(
        sa.select(RelatedParty)
        .where(RelatedParty.provider_id == provider.id, RelatedParty.credit_code == code)
        .with_for_update()
    )
    if row is not None and row.is_active:
        raise DuplicateDeclaration(
            "该企业已申报为关联方 / this enterprise is already declared", field="credit_code"
        )
    if row is None:
        row = RelatedParty(provider_id=provider.id, credit_code=code)
        session.add(row)
    row.name = clean_name
    row.relation = relation
    row.note = text
    row.declared_by_id = actor_id
    row.declared_at = utcnow()
    row.withdrawn_at = None
    row.withdrawn_by_id = None
    row.withdrawal_reason = None
    session.flush()
    record(
        session,
        "provider.related_party_declared",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        credit_code=code,
        relation=relation.value,
    )
    return row


def withdraw_related_party(
    session: Session,
    provider: Provider,
    declaration_id: int,
    *,
    reason: str,
    actor_id: int | None,
) -> RelatedParty:
    """End a declaration (it stays on record). Raises NotFound, ReasonRequired."""
    row = session.get(RelatedParty, declaration_id)
    if row is None or row.provider_id != provider.id or not row.is_active:
        raise NotFound("no such declaration / 申报不存在")
    row.withdrawal_reason = clean_reason(reason, required=True)
    row.withdrawn_at = utcnow()
    row.withdrawn_by_id = actor_id
    session.flush()
    record(
        session,
        "provider.related_party_withdrawn",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        credit_code=row.credit_code,
        reason=row.withdrawal_reason,
    )
    return row


def related_parties_of(
    session: Session, provider_id: int, *, active_only: bool = False
) -> list[RelatedParty]:
    stmt = (
        sa.select(RelatedParty)
        .where(RelatedParty.provider_id == provider_id)
        .order_by(RelatedParty.id)
    )
    if active_only:
        stmt = stmt.where(RelatedParty.withdrawn_at.is_(None))
    return list(session.scalars(stmt))


def are_related(session: Session, provider: Provider, enterprise: Enterprise) -> bool:
    """Same credit code, or an active declaration naming the enterprise."""
    if provider.credit_code == enterprise.credit_code:
        return True
    return (
        session.scalar(
            sa.select(RelatedParty.id).where(
                RelatedParty.provider_id == provider.id,
                RelatedParty.credit_code == enterprise.credit_code,
                RelatedParty.withdrawn_at.is_(None),
            )
        )
        is not None
    )


def ensure_orderable(
    session: Session,
    service: Service,
    enterprise: Enterprise,
    programme: Programme | None = None,
) -> None:
    """Refuse an order of ``service`` by ``enterprise`` (paid from ``programme``'s voucher,
    when given) unless every rule holds. Call it when the order is placed and again before
    money moves.

    Raises ProviderSuspended, ProviderRevoked, ProviderNotAdmitted, ServiceInactive,
    CategoryNotAdmitted (a category the provider was not admitted with), RelatedParty,
    NotInProgramme, CategoryNotEligible.
    """
    provider = session.get(Provider, service.provider_id)
    if provider is None:  # pragma: no cover - the foreign key forbids it
        raise NotFound("no such provider / 服务机构不存在")
    if provider.status is ProviderStatus.SUSPENDED:
        raise ProviderSuspended(
            "该服务机构已被暂停，暂不能下单 / the provider is suspended; its services cannot be ordered",
            extra={"provider_id": provider.id},
        )
    if provider.status is ProviderStatus.REVOKED:
        raise ProviderRevoked(
            "该服务机构资格已撤销 / the provider's admission was revoked",
            extra={"provider_id": provider.id},
        )
    if provider.status is not ProviderStatus.ADMITTED:
        raise ProviderNotAdmitted(
            "该服务机构尚未入库 / the provider is not admitted", extra={"provider_id": provider.id}
        )
    if not service.is_active:
        raise ServiceInactive(
            "该服务已下架 / the service is not offered at the moment",
            extra={"service_id": service.id},
        )
    if service.category.value not in (provider.service_categories or []):
        raise CategoryNotAdmitted(
            f"该服务机构未以“{service.category.zh}”类别入库，不能下单 / the provider was not "
            f"admitted for {service.category.en}; the service cannot be ordered",
            extra={"service_id": service.id, "category": service.category.value},
        )
    if are_related(session, provider, enterprise):
        raise RelatedPartyConflict(
            "企业与服务机构存在关联关系，不能使用创新券交易 / the enterprise and the provider are "
            "related parties; they may not trade with vouchers",
            extra={"provider_id": provider.id, "enterprise_id": enterprise.id},
        )
    if programme is not None:
        admitted = session.scalar(
            sa.select(ProgrammeParticipation.id).where(
                ProgrammeParticipation.provider_id == provider.id,
                ProgrammeParticipation.programme_id == programme.id,
                ProgrammeParticipation.status == ParticipationStatus.ADMITTED,
            )
        )
        if admitted is None:
            raise NotInProgramme(
                f"该服务机构未入选“{programme.name}” / the provider is not admitted to this programme",
                extra={"programme_id": programme.id},
            )
        if service.category.value not in (programme.eligible_categories or []):
            raise CategoryNotEligible(
                f"“{programme.name}”不支持“{service.category.zh}”类服务 / the programme does not "
                f"fund {service.category.en}",
                extra={"programme_id": programme.id, "category": service.category.value},
            )
