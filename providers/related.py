"""Related-party declarations, and the gate every order passes: :func:`ensure_orderable`.

A provider declares the enterprises it is affiliated with (by unified social credit code).
An order is refused when the enterprise is one of them, or when the enterprise and the
provider share a credit code, so vouchers cannot be spent inside one group of companies.
Declaring takes effect at once; ending a declaration after the application was submitted is a
request a reviewer decides (maker-checker, :mod:`providers.reviews`), and until then the
declaration stays in force. :func:`related_at` answers the same question later, for a claim.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import NotFound, ValidationFailed
from marketplace.parties.enums import STRONG, PartyKind
from marketplace.parties.services import Match, shared_between, shares_strong
from providers.enums import (
    ParticipationStatus,
    ProviderStatus,
    RelationKind,
    ReviewAction,
    ReviewStatus,
)
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
    ReviewSelfApproval,
    ServiceInactive,
)
from providers.models import (
    ProgrammeParticipation,
    Provider,
    RelatedParty,
    RelatedPartyWithdrawal,
    Service,
)
from providers.notices import tell_provider
from providers.reviews import Checker, decidable, stamp, supersede
from providers.rules import RELATED_PARTY_WITHDRAWAL, clean_reason
from providers.services import get_provider, is_editable
from vouchers.models import Enterprise, Programme

DECISION_TEMPLATE = "provider_review_decision"


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


#: Reviewers decide withdrawals, never whoever asked (shared steps: providers.reviews).
WITHDRAWAL_CHECKER = Checker(
    model=RelatedPartyWithdrawal,
    machine=RELATED_PARTY_WITHDRAWAL,
    decider=Role.REVIEWER,
    not_found="no such withdrawal request / 撤回申请不存在",
    wrong_role="关联方撤回须由审核员审核 / only a reviewer may decide a withdrawal",
    self_review=lambda: ReviewSelfApproval(
        "申请人不能审核自己的撤回申请 / whoever asked for the withdrawal cannot decide it"
    ),
)


def _end(row: RelatedParty, reason: str, actor_id: int | None) -> None:
    row.withdrawal_reason = reason
    row.withdrawn_at = utcnow()
    row.withdrawn_by_id = actor_id


def withdraw_related_party(
    session: Session,
    provider: Provider,
    declaration_id: int,
    *,
    reason: str,
    actor_id: int | None,
) -> RelatedParty:
    """End a declaration (it stays on record), with a reason.

    While the application is a draft (or was rejected) it ends at once: nothing was reviewed
    yet. Once submitted, the provider only asks (:class:`RelatedPartyWithdrawal`) and the
    declaration stays in force — orders between the two stay refused — until a reviewer
    accepts; a newer request supersedes a pending one, the same request changes nothing.

    Raises NotFound, ReasonRequired.
    """
    provider = get_provider(session, provider.id, lock=True)
    row = session.get(RelatedParty, declaration_id)
    if row is None or row.provider_id != provider.id or not row.is_active:
        raise NotFound("no such declaration / 申报不存在")
    text = clean_reason(reason, required=True)
    assert text is not None
    current = row.pending_withdrawal
    if current is not None and (is_editable(provider) or current.reason != text):
        supersede(current, WITHDRAWAL_CHECKER)
        # Free the one-pending-per-declaration index before a new request is inserted.
        session.flush()
        session.expire(row, ["withdrawals"])
        record(
            session,
            "provider.related_party_withdrawal_superseded",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            withdrawal_id=current.id,
        )
    elif current is not None:
        return row
    if is_editable(provider):
        _end(row, text, actor_id)
        session.flush()
        record(
            session,
            "provider.related_party_withdrawn",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            credit_code=row.credit_code,
            reason=text,
        )
        return row
    request = RelatedPartyWithdrawal(
        provider_id=provider.id,
        declaration_id=row.id,
        reason=text,
        status=ReviewStatus.PENDING,
        requested_by_id=actor_id,
    )
    session.add(request)
    session.flush()
    session.expire(row, ["withdrawals"])
    record(
        session,
        "provider.related_party_withdrawal_requested",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        withdrawal_id=request.id,
        credit_code=row.credit_code,
        reason=text,
    )
    return row


def _decide_withdrawal(
    session: Session,
    withdrawal_id: int,
    action: ReviewAction,
    *,
    actor_id: int | None,
    reason: str | None,
) -> RelatedPartyWithdrawal:
    provider, request = decidable(session, WITHDRAWAL_CHECKER, withdrawal_id, actor_id, action)
    text = clean_reason(reason, required=action is ReviewAction.REJECT)
    declaration = request.declaration
    stamp(request, WITHDRAWAL_CHECKER, action, actor_id, text)
    accepted = request.status is ReviewStatus.ACCEPTED
    if accepted and declaration.is_active:
        _end(declaration, request.reason, actor_id)
    session.flush()
    session.expire(declaration, ["withdrawals"])
    record(
        session,
        f"provider.related_party_withdrawal_{request.status.value}",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        withdrawal_id=request.id,
        credit_code=declaration.credit_code,
        reason=text,
    )
    tell_provider(
        session,
        provider,
        DECISION_TEMPLATE,
        accepted=accepted,
        what_zh=f"撤回关联方申报（{declaration.name}，{declaration.credit_code}）的申请",
        what_en=(
            f"request to withdraw the related-party declaration of {declaration.name} "
            f"({declaration.credit_code})"
        ),
        reason=text or "",
        path="/provider/related-parties",
    )
    return request


def approve_withdrawal(
    session: Session, withdrawal_id: int, *, actor_id: int | None, reason: str | None = None
) -> RelatedPartyWithdrawal:
    """A reviewer accepts the withdrawal: the declaration ends now (a note is optional).

    Raises NotFound, PermissionDenied (not a reviewer), ReviewSelfApproval, ReviewNotPending,
    ReasonRequired (a note that is too long).
    """
    return _decide_withdrawal(
        session, withdrawal_id, ReviewAction.APPROVE, actor_id=actor_id, reason=reason
    )


def reject_withdrawal(
    session: Session, withdrawal_id: int, *, actor_id: int | None, reason: str
) -> RelatedPartyWithdrawal:
    """A reviewer refuses the withdrawal, with a reason: the declaration stays in force.

    Raises NotFound, PermissionDenied, ReviewSelfApproval, ReviewNotPending, ReasonRequired.
    """
    return _decide_withdrawal(
        session, withdrawal_id, ReviewAction.REJECT, actor_id=actor_id, reason=reason
    )


def withdrawals_of(session: Session, provider_id: int) -> list[RelatedPartyWithdrawal]:
    """The provider's withdrawal requests, newest first."""
    return list(
        session.scalars(
            sa.select(RelatedPartyWithdrawal)
            .where(RelatedPartyWithdrawal.provider_id == provider_id)
            .order_by(RelatedPartyWithdrawal.id.desc())
        )
    )


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


def strong_links(session: Session, provider: Provider, enterprise: Enterprise) -> list[Match]:
    """What the two share that shows one controller, found without any declaration: the same
    legal representative or the same bank account (marketplace.parties)."""
    return [
        m
        for m in shared_between(
            session, (PartyKind.ENTERPRISE, enterprise.id), (PartyKind.PROVIDER, provider.id)
        )
        if m.kind in STRONG
    ]


def are_related(session: Session, provider: Provider, enterprise: Enterprise) -> bool:
    """Same credit code, a declaration in force naming the enterprise (one whose withdrawal
    awaits a reviewer is still in force), or a shared legal representative or bank account."""
    return _declared(session, provider, enterprise) or bool(
        strong_links(session, provider, enterprise)
    )


def _declared(session: Session, provider: Provider, enterprise: Enterprise) -> bool:
    if provider.credit_code == enterprise.credit_code:
        return True
    return bool(session.scalar(sa.select(_declaration_in_force(provider, enterprise))))


def _declaration_in_force(provider: Provider, enterprise: Enterprise) -> sa.Exists:
    return (
        sa.select(RelatedParty.id)
        .where(
            RelatedParty.provider_id == provider.id,
            RelatedParty.credit_code == enterprise.credit_code,
            RelatedParty.withdrawn_at.is_(None),
        )
        .exists()
    )


def related_at(session: Session, provider_id: int, enterprise_id: int) -> bool:
    """Whether provider and enterprise are related parties now: the same credit code, or a
    declaration in force (a withdrawal awaiting a reviewer keeps it in force).

    For the checks after an order was placed — a claim must not pay an order between related
    parties even when the declaration came after the order. Raises NotFound for an unknown
    provider or enterprise.
    """
    provider = session.get(Provider, provider_id)
    enterprise = session.get(Enterprise, enterprise_id)
    if provider is None or enterprise is None:
        raise NotFound("no such provider or enterprise / 服务机构或企业不存在")
    return are_related(session, provider, enterprise)


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
    # The declaration, the shared strong attributes and the programme admission are looked up
    # in one round trip (the gate runs inside every accept, before money moves); the refusals
    # keep their order, and which attributes are shared is read only to explain a refusal.
    facts = [
        _declaration_in_force(provider, enterprise),
        shares_strong((PartyKind.ENTERPRISE, enterprise.id), (PartyKind.PROVIDER, provider.id)),
    ]
    if programme is not None:
        facts.append(
            sa.select(ProgrammeParticipation.id)
            .where(
                ProgrammeParticipation.provider_id == provider.id,
                ProgrammeParticipation.programme_id == programme.id,
                ProgrammeParticipation.status == ParticipationStatus.ADMITTED,
            )
            .exists()
        )
    declared, shares, *admitted = session.execute(sa.select(*facts)).one()
    if declared or provider.credit_code == enterprise.credit_code:
        raise RelatedPartyConflict(
            "企业与服务机构存在关联关系，不能使用创新券交易 / the enterprise and the provider are "
            "related parties; they may not trade with vouchers",
            extra={
                "provider_id": provider.id,
                "enterprise_id": enterprise.id,
                "shared": ["credit_code_or_declaration"],
            },
        )
    links = strong_links(session, provider, enterprise) if shares else []
    if links:
        zh = "、".join(m.kind.zh for m in links)
        en = " and ".join(m.kind.en for m in links)
        raise RelatedPartyConflict(
            f"企业与服务机构的{zh}相同，属关联方，不能使用创新券交易 / the enterprise and the "
            f"provider share the same {en}: they are related parties and may not trade with "
            "vouchers",
            extra={
                "provider_id": provider.id,
                "enterprise_id": enterprise.id,
                "shared": [m.kind.value for m in links],
            },
        )
    if programme is not None:
        if not admitted[0]:
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
