"""Personal data shown whole only on purpose, and forgotten when its time is up (policy rule 11).

Every page and API response shows bank accounts, phones and e-mails masked
(``marketplace/masking.py``). :func:`reveal` is the one way for an administrator to see one
field whole: with a reason, after a fresh second factor (checked by the page or the API), and
recorded in the audit trail — the field and the reason, never the value. :func:`anonymise_closed`
is the retention rule: the personal data of accounts closed longer than the retention period is
overwritten, and with it the contacts of an organisation none of whose people remain.

This module sits with the providers because it is the lowest layer that sees both kinds of
organisation (enterprises are one layer below).
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import masking
from marketplace.audit.services import record
from marketplace.auth.models import ApiToken, RecoveryCode, User
from marketplace.auth.passwords import hash_password
from marketplace.auth.services import ensure_role
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import NotFound, ValidationFailed
from marketplace.parties.enums import PartyKind
from marketplace.parties.models import PartyAttribute
from providers.models import BankAccountChange, Provider
from vouchers.models import Enterprise

#: What a reveal must say about why, at least.
MIN_REASON = 4
#: Who may reveal: the administrators who act on the data. Auditors read only (on the pages
#: as through the API), so they see it masked like everyone else.
REVEALERS = frozenset({Role.REVIEWER, Role.FINANCE, Role.SYSADMIN})


@dataclass(frozen=True, slots=True)
class Revealable:
    model: type[Any]
    kind: str  # the masker's kind (marketplace.masking.MASKERS)


#: (subject type, field) → where the value lives. Identity numbers are not here: only their
#: masked form and a hash are stored, so nobody can reveal them.
REVEALABLE: dict[tuple[str, str], Revealable] = {
    ("enterprise", "contact_phone"): Revealable(Enterprise, "phone"),
    ("enterprise", "contact_email"): Revealable(Enterprise, "email"),
    ("enterprise", "bank_account_number"): Revealable(Enterprise, "bank_account"),
    ("provider", "contact_phone"): Revealable(Provider, "phone"),
    ("provider", "contact_email"): Revealable(Provider, "email"),
    ("provider", "bank_account_number"): Revealable(Provider, "bank_account"),
    ("provider_bank_change", "bank_account_number"): Revealable(BankAccountChange, "bank_account"),
    ("user", "email"): Revealable(User, "email"),
}


@dataclass(frozen=True, slots=True)
class Revealed:
    subject_type: str
    subject_id: int
    field: str
    value: str
    masked: str


def masked_value(session: Session, subject_type: str, subject_id: int, field: str) -> str:
    """The field as every page shows it (for the reveal form). Raises NotFound."""
    target, row = _target(session, subject_type, subject_id, field)
    return masking.MASKERS[target.kind](getattr(row, field))


def reveal(
    session: Session,
    actor: User,
    subject_type: str,
    subject_id: int,
    field: str,
    reason: str,
) -> Revealed:
    """Show ``field`` of the record whole to ``actor`` and record that it was shown, and why.

    The caller has checked a fresh second factor. Raises PermissionDenied (not an
    administrator), NotFound (no such record or field), ValidationFailed (no reason).
    """
    ensure_role(actor, *REVEALERS)
    target, row = _target(session, subject_type, subject_id, field)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationFailed(
            "say why you need to see it / 请说明查看理由", {"reason": ["required"]}
        )
    value = getattr(row, field) or ""
    record(
        session,
        "personal_data.revealed",
        actor_id=actor.id,
        subject_type=subject_type,
        subject_id=subject_id,
        field=field,
        reason=reason[:500],
    )
    return Revealed(
        subject_type, subject_id, field, value, masking.MASKERS[target.kind](value) if value else ""
    )


def _target(
    session: Session, subject_type: str, subject_id: int, field: str
) -> tuple[Revealable, Any]:
    target = REVEALABLE.get((subject_type, field))
    row = session.get(target.model, subject_id) if target is not None else None
    if target is None or row is None:
        raise NotFound("no such record / 记录不存在")
    return target, row


#: While a background job runs an export's view, the view reads through a session that must
#: write nothing (on SQLite a write would hold the database's write lock for the whole export,
#: and the session is closed, not committed). The export's record is collected here instead and
#: written by the job in the transaction that finishes it (``marketplace/web/jobs/exports.py``).
deferred_export_records: ContextVar[list[dict[str, Any]] | None] = ContextVar(
    "deferred_export_records", default=None
)


def record_export(
    session: Session,
    actor_id: int | None,
    export: str,
    *,
    subject_type: str,
    subject_id: int | None = None,
) -> None:
    """Record that a file holding personal data left the platform (who, which, of what)."""
    deferred = deferred_export_records.get()
    if deferred is not None:
        deferred.append(
            {"actor_id": actor_id, "export": export, "subject_type": subject_type,
             "subject_id": subject_id}
        )  # fmt: skip
        return
    record(
        session,
        "personal_data.exported",
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        export=export,
    )


# --------------------------------------------------------------------------- retention


@dataclass(frozen=True, slots=True)
class RetentionReport:
    users: int
    enterprises: int
    providers: int


def anonymise_closed(
    session: Session, *, years: int, now: datetime | None = None
) -> RetentionReport:
    """Overwrite the personal data of every account closed more than ``years`` years ago and
    not yet anonymised, and the contacts of each organisation left with no person who is not
    anonymised. Rows keep their ids, so the ledger, orders, claims and the audit trail keep
    pointing at them (the audit trail holds references, never the data, so its hash chain is
    untouched); each anonymisation is itself an audit event."""
    if years < 1:
        raise ValidationFailed("at least one year / 至少一年", {"years": ["at least 1"]})
    now = now or utcnow()
    cutoff = now - timedelta(days=round(365.25 * years))
    due = list(
        session.scalars(
            sa.select(User)
            .where(User.closed_at.is_not(None), User.closed_at < cutoff)
            .where(User.anonymised_at.is_(None))
            .order_by(User.id)
        )
    )
    enterprise_ids: set[int] = set()
    provider_ids: set[int] = set()
    for user in due:
        _anonymise_user(session, user, now)
        if user.enterprise_id is not None:
            enterprise_ids.add(user.enterprise_id)
        if user.provider_id is not None:
            provider_ids.add(user.provider_id)
    session.flush()
    enterprises = _anonymise_organisations(
        session, Enterprise, User.enterprise_id, enterprise_ids, PartyKind.ENTERPRISE, now
    )
    providers = _anonymise_organisations(
        session, Provider, User.provider_id, provider_ids, PartyKind.PROVIDER, now
    )
    return RetentionReport(len(due), enterprises, providers)


def _anonymise_user(session: Session, user: User, now: datetime) -> None:
    user.email = f"anonymised-{user.id}@invalid"
    user.display_name = f"已匿名用户 {user.id}"
    user.password_hash = hash_password(secrets.token_urlsafe(32))  # nobody knows it
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    user.is_active = False
    user.anonymised_at = now
    user.session_generation += 1
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    record(session, "user.anonymised", actor_id=None, subject_type="user", subject_id=user.id)


def _anonymise_organisations(
    session: Session,
    model: type[Enterprise] | type[Provider],
    link: Any,
    ids: set[int],
    party_kind: PartyKind,
    now: datetime,
) -> int:
    done = 0
    for org_id in sorted(ids):
        remaining = session.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(link == org_id, User.anonymised_at.is_(None))
        )
        if remaining:
            continue
        org = session.get(model, org_id)
        if not isinstance(org, Enterprise | Provider):  # pragma: no cover - the FK keeps it
            continue
        _blank(org)
        session.execute(
            sa.delete(PartyAttribute).where(
                PartyAttribute.party_kind == party_kind, PartyAttribute.party_id == org_id
            )
        )
        record(
            session,
            "organisation.anonymised",
            actor_id=None,
            subject_type=model.__tablename__.removesuffix("s"),
            subject_id=org_id,
        )
        done += 1
    return done


def _blank(org: Enterprise | Provider) -> None:
    """The organisation's contacts and representative; its name and credit code are public
    registry data (disclosure and the books name it), so they stay."""
    org.contact_name = "已匿名"
    org.contact_phone = "00000000000"
    org.contact_email = f"anonymised-{org.__tablename__}-{org.id}@invalid"
    org.legal_rep_name = None
    org.legal_rep_id_hash = None
    org.legal_rep_id_masked = None
    org.bank_account_number = None
    if isinstance(org, Enterprise):
        org.registered_address = None
