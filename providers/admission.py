"""Admission review: pass to public notice or reject, objections, admission after the notice,
suspension, reinstatement, revocation, and per-programme participation decisions.

Every move goes through its machine in :mod:`providers.rules`: a provider's by
:func:`providers.services.change_status`, a participation's by
:func:`providers.services.change_participation` (each writes the history row and the audit
event), an objection's by :func:`decide_objection`. Every refusal states its reason.

Decision on the notice length: a provider applies once, possibly to several programmes, so
its notice lasts the longest ``Programme.notice_days`` among the programmes it applied to;
if it applied to none, the longest among the current year's programmes; failing both, 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import NotFound, ValidationFailed
from providers import evidence
from providers.enums import (
    DocumentKind,
    ObjectionAction,
    ObjectionStatus,
    ParticipationAction,
    ParticipationStatus,
    ProviderAction,
    ProviderStatus,
    ReviewStatus,
)
from providers.errors import (
    AccreditationLapsed,
    NoticeNotOver,
    NotInNotice,
    ObjectionsPending,
    ParticipationNotAllowed,
    TransitionNotAllowed,
)
from providers.models import (
    Objection,
    ProgrammeParticipation,
    Provider,
    ProviderDocument,
    ProviderStatusChange,
)
from providers.rules import (
    OBJECTION,
    PARTICIPATION,
    PARTICIPATION_REASON_REQUIRED,
    PROVIDER,
    REVIEWER_DECISIONS,
    clean_reason,
    lapsed_documents,
    notice_days,
    notice_over,
    notice_running,
    notice_window,
    participation_refusal,
)
from providers.services import (
    change_participation,
    change_status,
    ensure_complete,
    get_provider,
    participations,
)
from vouchers.models import Programme

# --------------------------------------------------------------------------- notice


def notice_days_for(session: Session, provider: Provider, today: date) -> int:
    """How long this provider's public notice lasts (see the module docstring)."""
    applied = list(
        session.scalars(
            sa.select(Programme.notice_days)
            .join(ProgrammeParticipation, ProgrammeParticipation.programme_id == Programme.id)
            .where(
                ProgrammeParticipation.provider_id == provider.id,
                ProgrammeParticipation.status == ParticipationStatus.APPLIED,
            )
        )
    )
    if not applied:
        applied = list(
            session.scalars(sa.select(Programme.notice_days).where(Programme.year == today.year))
        )
    return notice_days(applied)


def pass_to_notice(
    session: Session, provider: Provider, *, actor_id: int | None, today: date
) -> Provider:
    """The reviewer's check passed: start the public notice (公示) today, and accept the
    application's documents with it.

    Raises TransitionNotAllowed (not a submitted pending application), ApplicationIncomplete
    (e.g. a document expired since submission).
    """
    provider = get_provider(session, provider.id, lock=True)
    if provider.status is ProviderStatus.PENDING and not provider.is_submitted:
        raise TransitionNotAllowed("申请尚未提交 / the application has not been submitted")
    with session.begin_nested():
        change_status(session, provider, ProviderAction.PASS_TO_NOTICE, actor_id=actor_id)
        ensure_complete(session, provider, today)
        provider.notice_starts_on, provider.notice_ends_on = notice_window(
            today, notice_days_for(session, provider, today)
        )
        # The reviewer checked the whole file: its documents are accepted with it. Anything
        # uploaded from now on waits for a decision of its own (providers.evidence).
        evidence.accept_with_application(session, provider, actor_id=actor_id)
        session.flush()
    return provider


def _reject_applied_programmes(
    session: Session, provider: Provider, reason: str, actor_id: int | None
) -> None:
    for participation in participations(session, provider.id):
        if participation.status is ParticipationStatus.APPLIED:
            change_participation(
                session,
                participation,
                ParticipationAction.REJECT,
                reason=reason,
                actor_id=actor_id,
            )


def reject(session: Session, provider: Provider, *, reason: str, actor_id: int | None) -> Provider:
    """Refuse a submitted application, with a reason. Raises TransitionNotAllowed,
    ReasonRequired."""
    provider = get_provider(session, provider.id, lock=True)
    if provider.status is ProviderStatus.PENDING and not provider.is_submitted:
        raise TransitionNotAllowed("申请尚未提交 / the application has not been submitted")
    with session.begin_nested():
        change = change_status(
            session, provider, ProviderAction.REJECT, actor_id=actor_id, reason=reason
        )
        _reject_applied_programmes(session, provider, change.reason or "", actor_id)
    return provider


def in_notice(session: Session, today: date) -> list[Provider]:
    """Providers whose public notice is running today (the public 公示 page)."""
    return list(
        session.scalars(
            sa.select(Provider)
            .where(
                Provider.status == ProviderStatus.IN_NOTICE,
                Provider.notice_starts_on <= today,
                Provider.notice_ends_on >= today,
            )
            .order_by(Provider.notice_ends_on, Provider.id)
        )
    )


# --------------------------------------------------------------------------- objections


def current_notice_round(session: Session, provider_id: int) -> int | None:
    """The id of the provider's latest pass-to-notice step: its current notice round (None if
    it never went to notice). Objections are filed into, and admission judges, this round."""
    return session.scalar(
        sa.select(sa.func.max(ProviderStatusChange.id)).where(
            ProviderStatusChange.provider_id == provider_id,
            ProviderStatusChange.action == ProviderAction.PASS_TO_NOTICE,
        )
    )


def _in_round(provider_id: int, notice_round: int | None) -> sa.ColumnElement[bool]:
    return sa.and_(
        Objection.provider_id == provider_id,
        Objection.notice_change_id.is_not_distinct_from(notice_round),
    )


def file_objection(
    session: Session,
    provider_id: int,
    *,
    objector_name: str,
    objector_contact: str,
    grounds: str,
    today: date,
) -> Objection:
    """Anyone may object to a provider while its notice runs.

    Raises NotFound, NotInNotice (not in notice, or the notice is over), ValidationFailed.
    """
    provider = get_provider(session, provider_id, lock=True)
    if provider.status is not ProviderStatus.IN_NOTICE or not notice_running(
        today, provider.notice_starts_on, provider.notice_ends_on
    ):
        raise NotInNotice(
            "该机构不在公示期内，不能提出异议 / the provider is not in public notice; "
            "objections are accepted only while its notice runs",
            extra={"provider_status": provider.status.value},
        )
    name, contact, text = objector_name.strip(), objector_contact.strip(), grounds.strip()
    errors: dict[str, list[str]] = {}
    if not 2 <= len(name) <= 100:
        errors["objector_name"] = ["姓名或单位 2–100 字 / your name, 2–100 characters"]
    if not 5 <= len(contact) <= 200:
        errors["objector_contact"] = ["联系方式 5–200 字 / a phone number or e-mail address"]
    if not 10 <= len(text) <= 5000:
        errors["grounds"] = ["异议理由 10–5000 字 / the grounds, 10–5000 characters"]
    if errors:
        raise ValidationFailed("异议信息有误 / the objection has invalid fields", errors)
    objection = Objection(
        provider_id=provider.id,
        notice_change_id=current_notice_round(session, provider.id),
        objector_name=name,
        objector_contact=contact,
        grounds=text,
    )
    session.add(objection)
    session.flush()
    record(
        session,
        "provider.objection_filed",
        actor_id=None,
        subject_type="provider",
        subject_id=provider.id,
        objection_id=objection.id,
    )
    return objection


def decide_objection(
    session: Session,
    objection_id: int,
    *,
    uphold: bool,
    reason: str,
    actor_id: int | None,
) -> Objection:
    """Uphold or dismiss an objection, with a reason. Upholding an objection of the current
    notice round refuses the admission at once; one left over from an earlier round is only
    recorded (that round already ended).

    Raises NotFound, ObjectionAlreadyDecided, ReasonRequired.
    """
    objection = session.get(Objection, objection_id, with_for_update=True)
    if objection is None:
        raise NotFound("no such objection / 异议不存在")
    provider = get_provider(session, objection.provider_id, lock=True)
    action = ObjectionAction.UPHOLD if uphold else ObjectionAction.DISMISS
    OBJECTION.next(objection.status, action)  # a decided objection is refused first
    text = clean_reason(reason, required=True)
    with session.begin_nested():
        _, decision = OBJECTION.move(objection, action)
        objection.decision_reason = text
        objection.decided_by_id = actor_id
        objection.decided_at = utcnow()
        session.flush()
        record(
            session,
            f"provider.objection_{decision.value}",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            objection_id=objection.id,
            reason=text,
        )
        current = objection.notice_change_id == current_notice_round(session, provider.id)
        if uphold and current and provider.status is ProviderStatus.IN_NOTICE:
            why = f"异议成立 / objection upheld: {text}"
            change_status(
                session, provider, ProviderAction.UPHOLD_OBJECTION, actor_id=actor_id, reason=why
            )
            _reject_applied_programmes(session, provider, why, actor_id)
    return objection


def objections_of(session: Session, provider_id: int) -> list[Objection]:
    return list(
        session.scalars(
            sa.select(Objection).where(Objection.provider_id == provider_id).order_by(Objection.id)
        )
    )


# --------------------------------------------------------------------------- admission


def lapsed_accreditation(
    session: Session, provider_id: int, today: date
) -> dict[DocumentKind, date]:
    """Accreditation document kinds with no accepted copy valid today → their latest expiry.

    Only documents a reviewer accepted count: a renewal the provider uploaded keeps the
    accreditation alive once it is accepted, not before (providers.evidence).
    """
    rows = session.execute(
        sa.select(ProviderDocument.kind, ProviderDocument.expires_on).where(
            ProviderDocument.provider_id == provider_id,
            ProviderDocument.review_status == ReviewStatus.ACCEPTED,
        )
    )
    return lapsed_documents(((kind, expires) for kind, expires in rows), today)


def _ensure_accreditation_valid(session: Session, provider: Provider, today: date) -> None:
    lapsed = lapsed_accreditation(session, provider.id, today)
    if lapsed:
        kind, day = min(lapsed.items(), key=lambda kv: kv[1])
        raise AccreditationLapsed(
            f"{kind.zh}已于 {day.isoformat()} 过期 / the {kind.en} expired on {day.isoformat()}",
            extra={"kind": kind.value, "expired_on": day.isoformat()},
        )


def admit(session: Session, provider: Provider, *, actor_id: int | None, today: date) -> Provider:
    """Admit a provider whose notice ended with no objection open or upheld in this notice
    round; its applied programmes become admitted. Objections of earlier rounds do not count:
    an upheld one already refused that application, and the provider re-applied since.

    Raises TransitionNotAllowed (not in notice), NoticeNotOver, ObjectionsPending,
    AccreditationLapsed.
    """
    provider = get_provider(session, provider.id, lock=True)
    PROVIDER.next(provider.status, ProviderAction.ADMIT)  # not in notice: refused first
    if not notice_over(today, provider.notice_ends_on):
        raise NoticeNotOver(
            f"公示期至 {provider.notice_ends_on} 结束 / the notice runs until {provider.notice_ends_on}",
            extra={"notice_ends_on": str(provider.notice_ends_on)},
        )
    notice_round = current_notice_round(session, provider.id)
    statuses = set(
        session.scalars(sa.select(Objection.status).where(_in_round(provider.id, notice_round)))
    )
    if ObjectionStatus.OPEN in statuses:
        raise ObjectionsPending("仍有未处理的异议 / objections are still open; decide them first")
    if ObjectionStatus.UPHELD in statuses:
        raise TransitionNotAllowed("有成立的异议 / an objection was upheld")
    _ensure_accreditation_valid(session, provider, today)
    with session.begin_nested():
        change_status(session, provider, ProviderAction.ADMIT, actor_id=actor_id)
        provider.admitted_at = utcnow()
        for participation in participations(session, provider.id):
            if participation.status is ParticipationStatus.APPLIED:
                change_participation(
                    session,
                    participation,
                    ParticipationAction.ADMIT,
                    reason=None,
                    actor_id=actor_id,
                )
        session.flush()
    return provider


@dataclass(frozen=True)
class DueForAdmission:
    provider_id: int
    name: str


def due_for_admission(session: Session, today: date) -> list[DueForAdmission]:
    """Providers in notice whose notice ended before today."""
    rows = session.execute(
        sa.select(Provider.id, Provider.name)
        .where(Provider.status == ProviderStatus.IN_NOTICE, Provider.notice_ends_on < today)
        .order_by(Provider.id)
    )
    return [DueForAdmission(pid, name) for pid, name in rows]


# --------------------------------------------------------------------------- suspension


def suspend(session: Session, provider: Provider, *, reason: str, actor_id: int | None) -> Provider:
    """Suspend an admitted provider: its services leave the catalogue and cannot be ordered.

    Raises TransitionNotAllowed, ReasonRequired.
    """
    provider = get_provider(session, provider.id, lock=True)
    change_status(session, provider, ProviderAction.SUSPEND, actor_id=actor_id, reason=reason)
    return provider


def reinstate(
    session: Session, provider: Provider, *, reason: str, actor_id: int | None, today: date
) -> Provider:
    """Lift a suspension. Raises TransitionNotAllowed, ReasonRequired, AccreditationLapsed
    (the renewed certificate must be uploaded and accepted by a reviewer first)."""
    provider = get_provider(session, provider.id, lock=True)
    clean_reason(reason, required=True)
    if provider.status is ProviderStatus.SUSPENDED:
        _ensure_accreditation_valid(session, provider, today)
    change_status(session, provider, ProviderAction.REINSTATE, actor_id=actor_id, reason=reason)
    return provider


def revoke(session: Session, provider: Provider, *, reason: str, actor_id: int | None) -> Provider:
    """Revoke the admission for good. Raises TransitionNotAllowed, ReasonRequired."""
    provider = get_provider(session, provider.id, lock=True)
    change_status(session, provider, ProviderAction.REVOKE, actor_id=actor_id, reason=reason)
    return provider


@dataclass(frozen=True)
class LapsedProvider:
    provider_id: int
    name: str
    lapsed: dict[DocumentKind, date]

    @property
    def reason(self) -> str:
        parts = "；".join(f"{k.zh}于 {d.isoformat()} 过期" for k, d in sorted(self.lapsed.items()))
        english = "; ".join(
            f"{k.en} expired on {d.isoformat()}" for k, d in sorted(self.lapsed.items())
        )
        return f"资质文件过期：{parts} / accreditation lapsed: {english}"


def lapsed_providers(session: Session, today: date) -> list[LapsedProvider]:
    """Admitted providers with an accreditation document kind that has no accepted copy valid
    today."""
    candidates = session.execute(
        sa.select(Provider.id, Provider.name)
        .where(
            Provider.status == ProviderStatus.ADMITTED,
            sa.exists().where(
                ProviderDocument.provider_id == Provider.id,
                ProviderDocument.review_status == ReviewStatus.ACCEPTED,
                ProviderDocument.expires_on < today,
            ),
        )
        .order_by(Provider.id)
    )
    found = []
    for provider_id, name in candidates:
        lapsed = lapsed_accreditation(session, provider_id, today)
        if lapsed:
            found.append(LapsedProvider(provider_id, name, lapsed))
    return found


def suspend_lapsed(
    session: Session, provider_id: int, *, actor_id: int | None, today: date
) -> bool:
    """Suspend one provider if (still) admitted with a lapsed accreditation; True if it was.
    Safe to call again: a suspended provider is left alone."""
    provider = get_provider(session, provider_id, lock=True)
    if provider.status is not ProviderStatus.ADMITTED:
        return False
    lapsed = lapsed_accreditation(session, provider_id, today)
    if not lapsed:
        return False
    reason = LapsedProvider(provider_id, provider.name, lapsed).reason
    change_status(session, provider, ProviderAction.SUSPEND, actor_id=actor_id, reason=reason)
    return True


# --------------------------------------------------------------------------- participation


def decide_participation(
    session: Session,
    provider: Provider,
    programme_id: int,
    target: ParticipationStatus,
    *,
    reason: str | None,
    actor_id: int | None,
) -> ProgrammeParticipation:
    """An administrator admits, rejects or withdraws the provider in one programme, the
    decision named by its ``target`` (:data:`providers.rules.REVIEWER_DECISIONS`).

    Raises NotFound, ParticipationNotAllowed, ReasonRequired.
    """
    provider = get_provider(session, provider.id, lock=True)
    participation = session.scalar(
        sa.select(ProgrammeParticipation).where(
            ProgrammeParticipation.provider_id == provider.id,
            ProgrammeParticipation.programme_id == programme_id,
        )
    )
    if participation is None:
        raise NotFound("该机构未申请此项目 / the provider has not applied to this programme")
    action = REVIEWER_DECISIONS.get(target)
    if action is None:  # applying is the provider's own choice, never a reviewer's
        raise participation_refusal(participation.status, target)
    PARTICIPATION.next(participation.status, action)  # refused before the checks below
    if action is ParticipationAction.ADMIT and provider.status not in {
        ProviderStatus.ADMITTED,
        ProviderStatus.SUSPENDED,
    }:
        raise ParticipationNotAllowed(
            "机构尚未入库；项目参与随入库一并决定 / the provider is not admitted yet; its "
            "programmes are decided with its admission"
        )
    text = clean_reason(reason, required=action in PARTICIPATION_REASON_REQUIRED)
    change_participation(session, participation, action, reason=text, actor_id=actor_id)
    return participation


def participation_for(
    session: Session, provider_id: int, programme_id: int
) -> ProgrammeParticipation | None:
    return session.scalar(
        sa.select(ProgrammeParticipation).where(
            ProgrammeParticipation.provider_id == provider_id,
            ProgrammeParticipation.programme_id == programme_id,
        )
    )
