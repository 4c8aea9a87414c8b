"""Enterprises: verification by a reviewer, the dishonesty list (失信), the profile.

Functions take the session first, flush and never commit. Registration creates the enterprise
(the region derived from its credit code) and its first user through
:mod:`marketplace.auth.services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.auth.services import OrganisationInput, add_organisation_user, check_account_input
from marketplace.credit_code import parse_credit_code
from marketplace.db import utcnow
from marketplace.enums import SizeClass
from marketplace.errors import DuplicateRegistration, NotFound, PreconditionFailed, ValidationFailed
from marketplace.parties.enums import PartyKind
from marketplace.parties.rules import bank_key
from marketplace.parties.services import Identity, LegalRep, check_legal_rep, index_party
from vouchers import freezes, rules
from vouchers.common import clean_text, fetch, refuse_nul
from vouchers.enums import BlacklistAction, VerificationStatus
from vouchers.errors import DateInFuture, InvalidTransition
from vouchers.models import BlacklistEvent, Enterprise, EnterpriseVerificationEvent


def get_enterprise(session: Session, enterprise_id: int) -> Enterprise:
    enterprise = fetch(session, Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound("没有该企业 / no such enterprise")
    return enterprise


def lock_enterprise(session: Session, enterprise_id: int) -> Enterprise:
    enterprise = fetch(session, Enterprise, enterprise_id, lock=True)
    if enterprise is None:
        raise NotFound("没有该企业 / no such enterprise")
    return enterprise


def decide_verification(
    session: Session,
    enterprise_id: int,
    decision: VerificationStatus,
    *,
    note: str | None,
    actor_id: int | None,
) -> Enterprise:
    """Verify an enterprise or refuse verification (a note is then mandatory): the one place
    its verification status changes, with the history row and the audit event.

    Raises NotFound, InvalidTransition (e.g. verifying a verified enterprise), ReasonRequired.
    """
    enterprise = lock_enterprise(session, enterprise_id)
    # An impossible decision is refused before its note is asked for.
    rules.VERIFICATION.next(enterprise.verification_status, decision)
    cleaned = clean_text(note, "note", required=decision is VerificationStatus.REJECTED)
    before, after = rules.VERIFICATION.move(enterprise, decision)
    session.add(
        EnterpriseVerificationEvent(
            enterprise_id=enterprise.id,
            from_status=before,
            to_status=after,
            note=cleaned or None,
            actor_id=actor_id,
        )
    )
    session.flush()
    record(
        session,
        "enterprise.verified" if after is VerificationStatus.VERIFIED else "enterprise.refused",
        actor_id=actor_id,
        subject_type="enterprise",
        subject_id=enterprise.id,
        from_status=before.value,
        note=cleaned,
    )
    return enterprise


def blacklist_enterprise(
    session: Session,
    enterprise_id: int,
    *,
    reason: str,
    source: str,
    listed_on: date,
    actor_id: int | None,
    today: date | None = None,
) -> Enterprise:
    """Put an enterprise on the dishonesty list (失信). New applications and new holds are then
    refused, and its vouchers and open orders frozen until a reviewer decides each
    (:mod:`vouchers.freezes`). Raises ReasonRequired, ValidationFailed (future date),
    InvalidTransition."""
    today = today or clock.local_date(utcnow())
    cleaned_reason = clean_text(reason, "reason")
    cleaned_source = clean_text(source, "source", limit=200)
    if listed_on > today:
        raise DateInFuture(
            "列入日期不能晚于今天 / the listing date cannot be in the future", field="listed_on"
        )
    enterprise = lock_enterprise(session, enterprise_id)
    if enterprise.blacklisted:
        raise InvalidTransition("企业已在失信名单中 / the enterprise is already on the list")
    enterprise.blacklisted = True
    enterprise.blacklist_reason = cleaned_reason
    enterprise.blacklist_source = cleaned_source
    enterprise.blacklisted_on = listed_on
    listing = BlacklistEvent(
        enterprise_id=enterprise.id,
        action=BlacklistAction.ADDED,
        reason=cleaned_reason,
        source=cleaned_source,
        effective_on=listed_on,
        actor_id=actor_id,
    )
    session.add(listing)
    session.flush()
    record(
        session,
        "enterprise.blacklisted",
        actor_id=actor_id,
        subject_type="enterprise",
        subject_id=enterprise.id,
        reason=cleaned_reason,
        source=cleaned_source,
        listed_on=listed_on.isoformat(),
        before={"blacklisted": False},
        after={"blacklisted": True},
    )
    freezes.freeze_enterprise(session, enterprise, listing, actor_id)
    return enterprise


def remove_from_blacklist(
    session: Session,
    enterprise_id: int,
    *,
    reason: str,
    actor_id: int | None,
    source: str | None = None,
    today: date | None = None,
) -> Enterprise:
    """Take an enterprise off the dishonesty list; the history keeps both events.

    Raises ReasonRequired, InvalidTransition (not listed)."""
    today = today or clock.local_date(utcnow())
    cleaned_reason = clean_text(reason, "reason")
    cleaned_source = clean_text(source, "source", required=False, limit=200) or None
    enterprise = lock_enterprise(session, enterprise_id)
    if not enterprise.blacklisted:
        raise InvalidTransition("企业不在失信名单中 / the enterprise is not on the list")
    enterprise.blacklisted = False
    enterprise.blacklist_reason = None
    enterprise.blacklist_source = None
    enterprise.blacklisted_on = None
    session.add(
        BlacklistEvent(
            enterprise_id=enterprise.id,
            action=BlacklistAction.REMOVED,
            reason=cleaned_reason,
            source=cleaned_source,
            effective_on=today,
            actor_id=actor_id,
        )
    )
    session.flush()
    record(
        session,
        "enterprise.unblacklisted",
        actor_id=actor_id,
        subject_type="enterprise",
        subject_id=enterprise.id,
        reason=cleaned_reason,
        before={"blacklisted": True},
        after={"blacklisted": False},
    )
    freezes.lift_enterprise(session, enterprise, cleaned_reason, actor_id)
    return enterprise


@dataclass(frozen=True, slots=True)
class IdentityInput:
    """Who is behind the enterprise, as typed (registration and profile). An empty identity
    number with the name unchanged keeps the number on record (it is never shown back)."""

    legal_rep_name: str | None = None
    legal_rep_id_number: str | None = None
    registered_address: str | None = None
    bank_account_number: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileInput:
    contact_name: str
    contact_phone: str
    contact_email: str
    industry: str | None
    identity: IdentityInput | None = None


def index_enterprise(session: Session, enterprise: Enterprise) -> None:
    """Put the enterprise's current details into the party index (related-party detection)."""
    index_party(
        session,
        PartyKind.ENTERPRISE,
        enterprise.id,
        Identity(
            registered_address=enterprise.registered_address,
            phones=(enterprise.contact_phone,),
            emails=(enterprise.contact_email,),
            bank_accounts=(enterprise.bank_account_number,),
        ),
        LegalRep(
            enterprise.legal_rep_name, enterprise.legal_rep_id_hash, enterprise.legal_rep_id_masked
        ),
    )


def _clean_identity(
    data: IdentityInput, current: Enterprise | None
) -> tuple[LegalRep, str | None, str | None]:
    """The legal representative, address and bank account to store. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    address = (data.registered_address or "").strip() or None
    refuse_nul(address, "registered_address")
    if address is not None and not 6 <= len(address) <= 300:
        errors["registered_address"] = ["6–300 characters / 6至300个字符"]
    raw_bank = (data.bank_account_number or "").strip()
    bank = bank_key(raw_bank) if raw_bank else None
    if raw_bank and (bank is None or len(bank) > 30):
        errors["bank_account_number"] = ["8–30位数字 / 8 to 30 digits"]
    name = (data.legal_rep_name or "").strip() or None
    refuse_nul(name, "legal_rep_name")
    number = (data.legal_rep_id_number or "").strip() or None
    legal_rep: LegalRep | None
    if (
        current is not None
        and number is None
        and name is not None
        and name == current.legal_rep_name
        and current.legal_rep_id_hash
    ):
        legal_rep = LegalRep(name, current.legal_rep_id_hash, current.legal_rep_id_masked)
    else:
        legal_rep, rep_errors = check_legal_rep(name, number, required=False)
        errors.update(rep_errors)
    if errors:
        raise ValidationFailed("资料有误 / the profile is not valid", errors)
    assert legal_rep is not None
    return legal_rep, address, bank


def _apply_identity(
    enterprise: Enterprise, legal_rep: LegalRep, address: str | None, bank: str | None
) -> None:
    enterprise.legal_rep_name = legal_rep.name
    enterprise.legal_rep_id_hash = legal_rep.id_hash
    enterprise.legal_rep_id_masked = legal_rep.id_masked
    enterprise.registered_address = address
    enterprise.bank_account_number = bank


def update_profile(
    session: Session,
    enterprise_id: int,
    data: ProfileInput,
    *,
    expected_version: int,
    actor_id: int | None,
) -> Enterprise:
    """Edit the enterprise's contacts and industry (credit code, region and size class are
    fixed by registration and verification). Raises PreconditionFailed, ValidationFailed."""
    errors: dict[str, list[str]] = {}
    values = {
        "contact_name": (data.contact_name or "").strip(),
        "contact_phone": (data.contact_phone or "").strip(),
        "contact_email": (data.contact_email or "").strip().lower(),
    }
    limits = {"contact_name": (1, 100), "contact_phone": (5, 40), "contact_email": (3, 254)}
    for name, (low, high) in limits.items():
        if not low <= len(values[name]) <= high:
            errors[name] = [f"{low}–{high} characters / {low}至{high}个字符"]
    if "@" not in values["contact_email"]:
        errors.setdefault("contact_email", []).append("not an e-mail address / 邮箱地址无效")
    industry = (data.industry or "").strip() or None
    for name, value in (*values.items(), ("industry", industry)):
        refuse_nul(value, name)
    if industry and len(industry) > 100:
        errors["industry"] = ["at most 100 characters / 最多100个字符"]
    if errors:
        raise ValidationFailed("资料有误 / the profile is not valid", errors)
    enterprise = lock_enterprise(session, enterprise_id)
    if enterprise.version != expected_version:
        raise PreconditionFailed(
            "资料已被他人修改，请刷新后重试 / the profile changed since you loaded it; reload"
        )
    identity = _clean_identity(data.identity, enterprise) if data.identity is not None else None
    for name, value in values.items():
        setattr(enterprise, name, value)
    enterprise.industry = industry
    if identity is not None:
        _apply_identity(enterprise, *identity)
    enterprise.version += 1
    session.flush()
    index_enterprise(session, enterprise)
    record(
        session,
        "enterprise.profile_updated",
        actor_id=actor_id,
        subject_type="enterprise",
        subject_id=enterprise.id,
    )
    return enterprise


def register_enterprise(
    session: Session,
    data: OrganisationInput,
    *,
    size_class: SizeClass,
    industry: str | None = None,
    identity: IdentityInput | None = None,
) -> User:
    """Create an enterprise (pending verification) and its first user, and index who is
    behind it.

    Raises ValidationFailed, DuplicateRegistration.
    """
    email, code = check_account_input(session, data)
    cleaned = _clean_identity(identity or IdentityInput(), None)
    if session.scalar(sa.select(Enterprise.id).where(Enterprise.credit_code == code)) is not None:
        raise DuplicateRegistration(
            "this credit code is already registered / 该统一社会信用代码已注册", field="credit_code"
        )
    parsed = parse_credit_code(code)
    enterprise = Enterprise(
        name=data.name.strip(),
        credit_code=code,
        region_code=parsed.division_code,
        size_class=size_class,
        industry=(industry or "").strip() or None,
        contact_name=data.contact_name.strip(),
        contact_phone=data.contact_phone.strip(),
        contact_email=email,
    )
    _apply_identity(enterprise, *cleaned)
    session.add(enterprise)
    session.flush()
    index_enterprise(session, enterprise)
    user = add_organisation_user(session, data, email, enterprise_id=enterprise.id)
    record(
        session,
        "enterprise.registered",
        actor_id=user.id,
        subject_type="enterprise",
        subject_id=enterprise.id,
        credit_code=code,
    )
    return user
