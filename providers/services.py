"""The admission application: the provider's file, qualifications, documents (see
providers.documents), the credit commitment, programme choices and submission.

Services take a session, flush and never commit. Review, notice and status changes are in
providers.admission; the catalogue in providers.catalogue; ratings and credit in
providers.credit; related parties and the order gate in providers.related.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.auth.services import OrganisationInput, add_organisation_user, check_account_input
from marketplace.credit_code import parse_credit_code
from marketplace.db import utcnow
from marketplace.enums import InstitutionType, ServiceCategory
from marketplace.errors import DuplicateRegistration, NotFound, PreconditionFailed, ValidationFailed
from marketplace.parties.enums import PartyKind
from marketplace.parties.services import Identity, LegalRep, check_legal_rep, index_party
from providers.enums import (
    AccreditationLevel,
    ParticipationAction,
    ParticipationStatus,
    ProviderAction,
    ProviderStatus,
    QualificationKind,
    ReviewStatus,
)
from providers.errors import (
    ApplicationIncomplete,
    ApplicationLocked,
    BankAccountNameMismatch,
    DuplicateQualification,
    QualificationExpired,
    ServiceCategoriesLocked,
    TransitionNotAllowed,
)
from providers.models import (
    CreditCommitment,
    ParticipationChange,
    ProgrammeParticipation,
    Provider,
    ProviderDocument,
    ProviderQualification,
    ProviderStatusChange,
    QualificationChange,
)
from providers.rules import (
    COMMITMENT_TEXT,
    COMMITMENT_VERSION,
    EMAIL_INPUT,
    PARTICIPATION,
    PROVIDER,
    REASON_REQUIRED,
    WEBSITE_INPUT,
    ApplicationFacts,
    account_name_matches,
    application_problems,
    clean_reason,
    commitment_digest,
    normalise_bank_account,
    normalise_qualification,
)
from vouchers.models import Programme

# --------------------------------------------------------------------------- lookups


def get_provider(session: Session, provider_id: int, *, lock: bool = False) -> Provider:
    """The provider, optionally locked for update (PostgreSQL; SQLite already holds the
    write lock from BEGIN IMMEDIATE). Raises NotFound.

    The lock is ``FOR NO KEY UPDATE``: it serialises changes to the provider but, unlike
    ``FOR UPDATE``, does not conflict with the ``KEY SHARE`` locks that inserting child rows
    (ratings, history, documents) takes for their foreign keys — so two transactions that each
    insert a child row and then lock the provider cannot deadlock.
    """
    provider = session.get(
        Provider,
        provider_id,
        with_for_update={"key_share": True} if lock else None,
        populate_existing=lock,
    )
    if provider is None:
        raise NotFound("no such provider / 服务机构不存在")
    return provider


def is_editable(provider: Provider) -> bool:
    """Draft or rejected: the whole file may change. Under review it is frozen."""
    return (provider.status is ProviderStatus.PENDING and not provider.is_submitted) or (
        provider.status is ProviderStatus.REJECTED
    )


def _ensure_not_frozen(provider: Provider) -> None:
    if provider.status is ProviderStatus.REVOKED:
        raise ApplicationLocked("资格已撤销 / the provider's admission was revoked")
    if provider.status is ProviderStatus.IN_NOTICE or (
        provider.status is ProviderStatus.PENDING and provider.is_submitted
    ):
        raise ApplicationLocked(
            "申请审核或公示期间不能修改 / the application cannot change while it is reviewed "
            "or in public notice"
        )


def _check_version(provider: Provider, expected: int | None) -> None:
    if expected is not None and expected != provider.version:
        raise PreconditionFailed(
            "资料已被他人修改，请刷新后重试 / the file changed since you read it; reload and retry",
            extra={"current_version": provider.version},
        )


# --------------------------------------------------------------------------- the file

PROFILE_FIELDS = (
    "accreditation_level",
    "service_categories",
    "description",
    "address",
    "website",
    "contact_name",
    "contact_phone",
    "contact_email",
    "bank_account_name",
    "bank_name",
    "bank_account_number",
)
#: Fields only a draft (or rejected) application may change: they are what was reviewed.
_REVIEWED_FIELDS = frozenset({"accreditation_level"})
#: The settlement account. After admission a change is a request that finance approves
#: (providers.bank_changes); payouts copy only the live, approved values.
BANK_FIELDS = ("bank_account_name", "bank_name", "bank_account_number")
#: Statuses in which the file was reviewed and the bank account is under maker-checker.
ADMITTED_STATUSES = frozenset({ProviderStatus.ADMITTED, ProviderStatus.SUSPENDED})
_LIMITS = {
    "description": 5000,
    "address": 300,
    "website": 300,
    "contact_name": 100,
    "contact_phone": 40,
    "contact_email": 254,
    "bank_account_name": 200,
    "bank_name": 200,
}
_REQUIRED_TEXT = frozenset({"contact_name", "contact_phone", "contact_email"})


def _clean_profile(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, raw in changes.items():
        if name not in PROFILE_FIELDS:
            errors[name] = ["unknown field / 未知字段"]
            continue
        if name == "accreditation_level":
            try:
                values[name] = None if raw in (None, "") else AccreditationLevel(raw)
            except ValueError:
                errors[name] = ["国家级、省级或市级 / national, provincial or municipal"]
        elif name == "service_categories":
            try:
                cats = {ServiceCategory(c) for c in raw or []}
            except ValueError:
                errors[name] = ["未知的服务类别 / unknown service category"]
                continue
            values[name] = [c.value for c in ServiceCategory if c in cats]
        elif name == "bank_account_number":
            text = (raw or "").strip()
            number = normalise_bank_account(text) if text else None
            if text and number is None:
                errors[name] = ["8–30位数字 / 8 to 30 digits"]
            values[name] = number
        else:
            text = (raw or "").strip()
            if len(text) > _LIMITS[name]:
                errors[name] = [f"不超过{_LIMITS[name]}字 / at most {_LIMITS[name]} characters"]
            if name in _REQUIRED_TEXT and not text:
                errors[name] = ["必填 / required"]
            if name == "contact_email" and text and not re.match(EMAIL_INPUT, text):
                errors[name] = ["邮箱地址无效 / not a valid e-mail address"]
            if name == "website" and text and not re.match(WEBSITE_INPUT, text):
                errors[name] = ["以 http:// 或 https:// 开头 / must start with http:// or https://"]
            values[name] = text.lower() if name == "contact_email" else (text or None)
    return values, errors


#: The legal representative: not columns as typed (the number is stored only hashed).
LEGAL_REP_FIELDS = ("legal_rep_name", "legal_rep_id_number")


def index_provider(session: Session, provider: Provider) -> None:
    """Put the provider's current details into the party index (related-party detection):
    the live settlement account only, never one still awaiting approval."""
    index_party(
        session,
        PartyKind.PROVIDER,
        provider.id,
        Identity(
            registered_address=provider.address,
            phones=(provider.contact_phone,),
            emails=(provider.contact_email,),
            bank_accounts=(provider.bank_account_number,),
        ),
        LegalRep(provider.legal_rep_name, provider.legal_rep_id_hash, provider.legal_rep_id_masked),
    )


def _clean_legal_rep(
    provider: Provider, changes: Mapping[str, Any]
) -> tuple[LegalRep | None, dict[str, list[str]]]:
    """The legal representative to store when the change names one. A name given again
    without a number keeps the number on record (it is never shown back)."""
    if not any(n in changes for n in LEGAL_REP_FIELDS):
        return None, {}
    name = (changes.get("legal_rep_name") or "").strip() or None
    number = (changes.get("legal_rep_id_number") or "").strip() or None
    if number is None and name is not None and name == provider.legal_rep_name:
        return LegalRep(name, provider.legal_rep_id_hash, provider.legal_rep_id_masked), {}
    return check_legal_rep(name, number, required=False)


def ensure_account_name(provider: Provider, account_name: str | None) -> None:
    """Raises BankAccountNameMismatch unless the account is held in the registered name."""
    if account_name and not account_name_matches(account_name, provider.name):
        raise BankAccountNameMismatch(
            f"结算账户户名须与机构登记名称“{provider.name}”一致 / the account must be held in the "
            f"institution's registered name, {provider.name}",
            field="bank_account_name",
            extra={"registered_name": provider.name},
        )


def update_profile(
    session: Session,
    provider: Provider,
    changes: Mapping[str, Any],
    *,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Provider:
    """Change fields of the admission file (only those given).

    Before admission every field changes directly (the file is reviewed at admission). Once
    admitted (or suspended), the accreditation level and service categories are locked, and a
    new settlement account does not replace the live one: it becomes a request that a finance
    officer approves (:func:`providers.bank_changes.request_change`).

    Raises ApplicationLocked (under review, revoked, or the accreditation level after
    admission), ServiceCategoriesLocked, BankAccountNameMismatch, PreconditionFailed (stale
    version), ValidationFailed.
    """
    from providers import bank_changes

    provider = get_provider(session, provider.id, lock=True)
    _check_version(provider, expected_version)
    _ensure_not_frozen(provider)
    legal_rep, rep_errors = _clean_legal_rep(provider, changes)
    values, errors = _clean_profile({n: v for n, v in changes.items() if n not in LEGAL_REP_FIELDS})
    errors.update(rep_errors)
    if errors:
        raise ValidationFailed("资料有误 / the file has invalid fields", errors)
    admitted = provider.status in ADMITTED_STATUSES
    if not is_editable(provider):
        locked = sorted(
            n for n in _REVIEWED_FIELDS & values.keys() if values[n] != getattr(provider, n)
        )
        if locked:
            raise ApplicationLocked(
                "入库后认定级别不能修改，请联系审核员 / the accreditation level cannot change after "
                "admission; ask a reviewer",
                field=locked[0],
            )
    categories = values.get("service_categories")
    if (
        admitted
        and categories is not None
        and set(categories) != set(provider.service_categories or [])
    ):
        raise ServiceCategoriesLocked(
            "入库后服务类别不能修改：类别是入库审核的内容，新增类别须重新申请并经审核，平台暂不"
            "支持此类申请 / service categories cannot change after admission: they were "
            "reviewed for admission, and adding one needs a new application and review, "
            "which the platform does not offer yet",
            field="service_categories",
            extra={"service_categories": list(provider.service_categories or [])},
        )
    ensure_account_name(provider, values.get("bank_account_name"))
    bank = {n: values.pop(n) for n in BANK_FIELDS if n in values} if admitted else {}
    # The request is checked (complete, registered name) before anything else changes.
    requested = (
        bank_changes.request_change(session, provider, bank, actor_id=actor_id) if bank else None
    )
    if legal_rep is not None:
        values["legal_rep_name"] = legal_rep.name
        values["legal_rep_id_hash"] = legal_rep.id_hash
        values["legal_rep_id_masked"] = legal_rep.id_masked
    changed = sorted(n for n, v in values.items() if getattr(provider, n) != v)
    for name in changed:
        setattr(provider, name, values[name])
    if changed or requested is not None:
        provider.version += 1
        session.flush()
        index_provider(session, provider)
    if changed:
        record(
            session,
            "provider.profile_updated",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            fields=changed,
        )
    return provider


def set_qualification(
    session: Session,
    provider: Provider,
    kind: QualificationKind,
    number: str,
    *,
    valid_until: date | None,
    actor_id: int | None,
    today: date,
    scope: str | None = None,
) -> ProviderQualification | QualificationChange:
    """Add or replace the provider's number of one kind (with what it covers, ``scope``).

    Before admission the number changes directly (the application is reviewed as a whole).
    Once admitted (or suspended) it does not: the request is returned, pending a reviewer
    (:func:`providers.evidence.request_qualification_change`), and the number accepted before
    stays the live one (the public pages show it) until then.

    Raises InvalidQualification, DuplicateQualification, QualificationExpired (past validity),
    ApplicationLocked (under review, in notice, revoked).
    """
    from providers import evidence

    provider = get_provider(session, provider.id, lock=True)
    _ensure_not_frozen(provider)
    normalised = normalise_qualification(kind, number)
    scope = normalise_scope(scope)
    if valid_until is not None and valid_until < today:
        raise QualificationExpired(
            f"资质已于 {valid_until.isoformat()} 过期 / the qualification expired on "
            f"{valid_until.isoformat()}",
            field="valid_until",
        )
    holder = session.scalar(
        sa.select(ProviderQualification.provider_id).where(
            ProviderQualification.kind == kind, ProviderQualification.number == normalised
        )
    )
    if holder is not None and holder != provider.id:
        raise DuplicateQualification(
            f"{kind.zh}编号 {normalised} 已由其他机构登记 / {kind.en} {normalised} is registered "
            "by another institution",
            field="number",
        )
    if provider.status in ADMITTED_STATUSES:
        return evidence.request_qualification_change(
            session,
            provider,
            kind,
            normalised,
            valid_until=valid_until,
            scope=scope,
            actor_id=actor_id,
        )
    qualification = session.scalar(
        sa.select(ProviderQualification).where(
            ProviderQualification.provider_id == provider.id, ProviderQualification.kind == kind
        )
    )
    if qualification is None:
        qualification = ProviderQualification(provider_id=provider.id, kind=kind)
        session.add(qualification)
    qualification.number = normalised
    qualification.valid_until = valid_until
    qualification.scope = scope
    session.flush()
    record(
        session,
        "provider.qualification_set",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        kind=kind.value,
        number=normalised,
    )
    session.expire(provider, ["qualifications"])
    return qualification


MAX_SCOPE_LENGTH = 2000


def normalise_scope(scope: str | None) -> str | None:
    """White space runs collapsed; empty is None. Raises ValidationFailed when too long."""
    text = " ".join((scope or "").split())
    if len(text) > MAX_SCOPE_LENGTH:
        raise ValidationFailed(
            f"认可范围不超过 {MAX_SCOPE_LENGTH} 字 / the scope is at most {MAX_SCOPE_LENGTH}"
            " characters",
            {"scope": [f"≤ {MAX_SCOPE_LENGTH}"]},
        )
    return text or None


def remove_qualification(
    session: Session, provider: Provider, kind: QualificationKind, *, actor_id: int | None
) -> None:
    """Raises NotFound, ApplicationLocked (only a draft or rejected application may drop one)."""
    if not is_editable(provider):
        raise ApplicationLocked(
            "只有草稿或被驳回的申请可以删除资质 / only a draft or rejected application may drop "
            "a qualification"
        )
    qualification = session.scalar(
        sa.select(ProviderQualification).where(
            ProviderQualification.provider_id == provider.id, ProviderQualification.kind == kind
        )
    )
    if qualification is None:
        raise NotFound("no such qualification / 资质不存在")
    session.delete(qualification)
    session.flush()
    session.expire(provider, ["qualifications"])
    record(
        session,
        "provider.qualification_removed",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        kind=kind.value,
    )


# --------------------------------------------------------------------------- commitment


def current_commitment(session: Session, provider_id: int) -> CreditCommitment | None:
    """The signature of the current commitment text, if any."""
    return session.scalar(
        sa.select(CreditCommitment).where(
            CreditCommitment.provider_id == provider_id,
            CreditCommitment.text_version == COMMITMENT_VERSION,
        )
    )


def sign_commitment(
    session: Session,
    provider: Provider,
    *,
    signer_name: str,
    signer_title: str,
    agreed: bool,
    actor_id: int | None,
) -> CreditCommitment:
    """Sign the current credit commitment (信用承诺书). Signing again is a no-op.

    Raises ValidationFailed (not agreed, signer missing).
    """
    errors: dict[str, list[str]] = {}
    if not agreed:
        errors["agreed"] = ["须阅读并同意承诺内容 / you must read and agree to the commitment"]
    name, title = signer_name.strip(), signer_title.strip()
    if not 2 <= len(name) <= 100:
        errors["signer_name"] = ["签署人姓名 2–100 字 / the signer's name, 2–100 characters"]
    if not 2 <= len(title) <= 100:
        errors["signer_title"] = ["签署人职务 2–100 字 / the signer's title, 2–100 characters"]
    if errors:
        raise ValidationFailed("承诺书未签署 / the commitment is not signed", errors)
    existing = current_commitment(session, provider.id)
    if existing is not None:
        return existing
    commitment = CreditCommitment(
        provider_id=provider.id,
        text_version=COMMITMENT_VERSION,
        text_sha256=commitment_digest(COMMITMENT_TEXT),
        signer_name=name,
        signer_title=title,
        signed_by_id=actor_id,
    )
    session.add(commitment)
    session.flush()
    record(
        session,
        "provider.commitment_signed",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        text_version=COMMITMENT_VERSION,
        signer_name=name,
    )
    return commitment


# --------------------------------------------------------------------------- programmes


def change_participation(
    session: Session,
    participation: ProgrammeParticipation,
    action: ParticipationAction,
    *,
    reason: str | None,
    actor_id: int | None,
) -> None:
    """Move a participation by ``action`` and record it (history row + audit): the one place
    a participation's status changes. Raises ParticipationNotAllowed (nothing changed);
    callers judge the reason."""
    before, after = PARTICIPATION.move(participation, action)
    participation.reason = reason
    session.add(
        ParticipationChange(
            participation_id=participation.id,
            from_status=before,
            to_status=after,
            reason=reason,
            actor_id=actor_id,
        )
    )
    session.flush()
    record(
        session,
        "provider.participation_changed",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=participation.provider_id,
        programme_id=participation.programme_id,
        to_status=after.value,
        reason=reason,
    )


def participations(session: Session, provider_id: int) -> list[ProgrammeParticipation]:
    return list(
        session.scalars(
            sa.select(ProgrammeParticipation)
            .where(ProgrammeParticipation.provider_id == provider_id)
            .order_by(ProgrammeParticipation.programme_id)
        )
    )


def open_programmes(session: Session, today: date) -> list[Programme]:
    """Programmes a provider may still apply to: vouchers can still be used in them."""
    return list(
        session.scalars(
            sa.select(Programme)
            .where(Programme.use_by >= today)
            .order_by(Programme.year, Programme.kind)
        )
    )


WITHDRAWN_BY_APPLICANT = "申请人撤回 / withdrawn by the applicant"


def choose_programmes(
    session: Session,
    provider: Provider,
    programme_ids: Iterable[int],
    *,
    actor_id: int | None,
    today: date,
) -> list[ProgrammeParticipation]:
    """Set the programmes the provider applies to (or stays in).

    Newly chosen programmes become *applied* (a reviewer decides them; before admission they
    are decided with the admission); programmes no longer chosen are *withdrawn*. Raises
    NotFound (unknown or closed programme), ApplicationLocked (under review, revoked).
    """
    provider = get_provider(session, provider.id, lock=True)
    _ensure_not_frozen(provider)
    wanted = set(programme_ids)
    available = {p.id for p in open_programmes(session, today)}
    unknown = wanted - available
    if unknown:
        raise NotFound(
            f"项目不存在或已结束 / no open programme with id {min(unknown)}",
            field="programme_ids",
        )
    existing = {p.programme_id: p for p in participations(session, provider.id)}
    for programme_id in sorted(wanted):
        participation = existing.get(programme_id)
        if participation is None:
            participation = ProgrammeParticipation(
                provider_id=provider.id,
                programme_id=programme_id,
                status=ParticipationStatus.APPLIED,
            )
            session.add(participation)
            session.flush()
            session.add(
                ParticipationChange(
                    participation_id=participation.id,
                    from_status=None,
                    to_status=ParticipationStatus.APPLIED,
                    actor_id=actor_id,
                )
            )
            record(
                session,
                "provider.participation_changed",
                actor_id=actor_id,
                subject_type="provider",
                subject_id=provider.id,
                programme_id=programme_id,
                to_status=ParticipationStatus.APPLIED.value,
            )
        elif PARTICIPATION.allows(participation.status, ParticipationAction.APPLY):
            change_participation(
                session, participation, ParticipationAction.APPLY, reason=None, actor_id=actor_id
            )
    for programme_id, participation in existing.items():
        if programme_id not in wanted and PARTICIPATION.allows(
            participation.status, ParticipationAction.LEAVE
        ):
            change_participation(
                session,
                participation,
                ParticipationAction.LEAVE,
                reason=WITHDRAWN_BY_APPLICANT,
                actor_id=actor_id,
            )
    session.flush()
    session.expire(provider, ["participations"])
    return participations(session, provider.id)


# --------------------------------------------------------------------------- submission


def application_facts(session: Session, provider: Provider, today: date) -> ApplicationFacts:
    # Documents a reviewer rejected never count; pending ones are the application's own,
    # accepted with it when it passes to public notice.
    valid_documents = frozenset(
        kind
        for kind, expires_on in session.execute(
            sa.select(ProviderDocument.kind, ProviderDocument.expires_on).where(
                ProviderDocument.provider_id == provider.id,
                ProviderDocument.review_status != ReviewStatus.REJECTED,
            )
        )
        if expires_on is None or expires_on >= today
    )
    qualifications = frozenset(
        session.scalars(
            sa.select(ProviderQualification.kind).where(
                ProviderQualification.provider_id == provider.id,
                sa.or_(
                    ProviderQualification.valid_until.is_(None),
                    ProviderQualification.valid_until >= today,
                ),
            )
        )
    )
    applied = session.scalar(
        sa.select(sa.func.count()).where(
            ProgrammeParticipation.provider_id == provider.id,
            ProgrammeParticipation.status.in_(
                [ParticipationStatus.APPLIED, ParticipationStatus.ADMITTED]
            ),
        )
    )
    extra: dict[str, list[str]] = {}
    if provider.bank_account_name and not account_name_matches(
        provider.bank_account_name, provider.name
    ):
        extra["bank_account"] = [
            "结算账户户名须与机构登记名称一致 / the settlement account must be held in the "
            "institution's registered name"
        ]
    return ApplicationFacts(
        institution_type=provider.institution_type,
        accreditation_level=provider.accreditation_level,
        categories=provider.categories,
        contact_name=provider.contact_name,
        contact_phone=provider.contact_phone,
        contact_email=provider.contact_email,
        bank_account_name=provider.bank_account_name,
        bank_name=provider.bank_name,
        bank_account_number=provider.bank_account_number,
        qualifications=qualifications,
        valid_documents=valid_documents,
        commitment_signed=current_commitment(session, provider.id) is not None,
        programmes_applied=int(applied or 0),
        extra=extra,
    )


def missing_for_submission(
    session: Session, provider: Provider, today: date
) -> dict[str, list[str]]:
    """What the application still lacks (empty when it may be submitted)."""
    return application_problems(application_facts(session, provider, today))


def ensure_complete(session: Session, provider: Provider, today: date) -> None:
    """Raises ApplicationIncomplete listing what is missing."""
    problems = missing_for_submission(session, provider, today)
    if problems:
        raise ApplicationIncomplete("申请材料不完整 / the application is incomplete", problems)


#: Called after every provider status change, in its transaction: ``(session, provider,
#: change)``. Packages above providers register here (settlement freezes a suspended provider's
#: unpaid claim lines), as the orders register their payment listener.
StatusListener = Callable[[Session, Provider, ProviderStatusChange], None]
_status_listeners: list[StatusListener] = []


def on_status_change(listener: StatusListener) -> None:
    """Register ``listener`` for every provider status change (idempotent)."""
    if listener not in _status_listeners:
        _status_listeners.append(listener)


def change_status(
    session: Session,
    provider: Provider,
    action: ProviderAction,
    *,
    actor_id: int | None,
    reason: str | None = None,
    now: datetime | None = None,
) -> ProviderStatusChange:
    """Move a provider by ``action`` through its admission machine and record it (history row
    + audit): the one place a provider's status changes.

    Raises TransitionNotAllowed, ReasonRequired (nothing changed).
    """
    PROVIDER.next(provider.status, action)  # a move that is not possible is refused first
    text = clean_reason(reason, required=action in REASON_REQUIRED)
    before, after = PROVIDER.move(provider, action)
    when = now or utcnow()
    change = ProviderStatusChange(
        provider_id=provider.id,
        action=action,
        from_status=before,
        to_status=after,
        reason=text,
        actor_id=actor_id,
        occurred_at=when,
    )
    session.add(change)
    provider.status_reason = text
    provider.status_changed_at = when
    session.flush()
    record(
        session,
        f"provider.{action.value}",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        from_status=before.value,
        to_status=after.value,
        reason=text,
    )
    for listener in _status_listeners:
        listener(session, provider, change)
    return change


def submit_application(
    session: Session, provider: Provider, *, actor_id: int | None, today: date
) -> Provider:
    """Submit the application for review (or re-submit after a rejection).

    Raises TransitionNotAllowed (already submitted, or not pending/rejected),
    ApplicationIncomplete.
    """
    provider = get_provider(session, provider.id, lock=True)
    if provider.status is ProviderStatus.PENDING and provider.is_submitted:
        raise TransitionNotAllowed(
            "申请已提交，正在审核 / the application was already submitted and awaits review"
        )
    PROVIDER.next(provider.status, ProviderAction.SUBMIT)  # refused before anything moves
    # Several rows change together: a savepoint makes a refusal leave nothing behind.
    with session.begin_nested():
        if provider.status is ProviderStatus.REJECTED:
            # A re-submission is a fresh review of every programme the provider had chosen.
            for participation in participations(session, provider.id):
                if participation.status is ParticipationStatus.REJECTED:
                    change_participation(
                        session,
                        participation,
                        ParticipationAction.APPLY,
                        reason=None,
                        actor_id=actor_id,
                    )
        ensure_complete(session, provider, today)
        change_status(session, provider, ProviderAction.SUBMIT, actor_id=actor_id)
        provider.submitted_at = utcnow()
        provider.notice_starts_on = None
        provider.notice_ends_on = None
        session.flush()
    return provider


def register_provider(
    session: Session,
    data: OrganisationInput,
    *,
    institution_type: InstitutionType,
    legal_rep_name: str | None = None,
    legal_rep_id_number: str | None = None,
) -> User:
    """Create a provider (pending admission review) and its first user, and index who is
    behind it.

    Raises ValidationFailed, DuplicateRegistration.
    """
    email, code = check_account_input(session, data)
    legal_rep, rep_errors = check_legal_rep(legal_rep_name, legal_rep_id_number, required=False)
    if rep_errors:
        raise ValidationFailed(
            "法定代表人信息有误 / the legal representative is not valid", rep_errors
        )
    assert legal_rep is not None
    if session.scalar(sa.select(Provider.id).where(Provider.credit_code == code)) is not None:
        raise DuplicateRegistration(
            "this credit code is already registered / 该统一社会信用代码已注册", field="credit_code"
        )
    parsed = parse_credit_code(code)
    provider = Provider(
        name=data.name.strip(),
        credit_code=code,
        region_code=parsed.division_code,
        institution_type=institution_type,
        contact_name=data.contact_name.strip(),
        contact_phone=data.contact_phone.strip(),
        contact_email=email,
        legal_rep_name=legal_rep.name,
        legal_rep_id_hash=legal_rep.id_hash,
        legal_rep_id_masked=legal_rep.id_masked,
    )
    session.add(provider)
    session.flush()
    index_provider(session, provider)
    user = add_organisation_user(session, data, email, provider_id=provider.id)
    record(
        session,
        "provider.registered",
        actor_id=user.id,
        subject_type="provider",
        subject_id=provider.id,
        credit_code=code,
    )
    return user
