"""Indexing organisations' attributes and finding who shares them.

:func:`index_party` is called by whoever changes an enterprise's or provider's details (their
own domains, in the same transaction); :func:`shared_between`, :func:`matches_of` and
:func:`group_of` answer from the index with indexed lookups only, never a pairwise scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from marketplace import masking
from marketplace.config import current_settings
from marketplace.errors import ValidationFailed
from marketplace.parties import rules
from marketplace.parties.enums import STRONG, AttributeKind, PartyKind
from marketplace.parties.models import PartyAttribute

#: A controller's group larger than this is reported as it stands (it is then a matter for a
#: reviewer, not arithmetic); it bounds the work of one lookup.
MAX_GROUP = 500


@dataclass(frozen=True, slots=True)
class Identity:
    """The details an organisation declares about who is behind it (raw, as typed)."""

    legal_rep_name: str | None = None
    legal_rep_id_number: str | None = None
    registered_address: str | None = None
    phones: tuple[str | None, ...] = ()
    emails: tuple[str | None, ...] = ()
    bank_accounts: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class LegalRep:
    """What is stored of a legal representative: the name, the ID number's keyed hash and its
    masked form (the number itself never)."""

    name: str | None
    id_hash: str | None
    id_masked: str | None


@dataclass(frozen=True, slots=True)
class Match:
    """``other`` shares ``kind`` with the organisation asked about; ``evidence`` as shown."""

    party_kind: PartyKind
    party_id: int
    kind: AttributeKind
    evidence: str

    @property
    def is_strong(self) -> bool:
        return self.kind in STRONG


def clean_legal_rep(name: str | None, id_number: str | None, *, required: bool) -> LegalRep:
    """Check and reduce a legal representative to what is stored.

    Raises ValidationFailed naming the field (a number that fails the GB 11643 check digit, a
    name without a number or the reverse, or nothing when ``required``).
    """
    legal_rep, errors = check_legal_rep(name, id_number, required=required)
    if errors:
        raise ValidationFailed("法定代表人信息有误 / the legal representative is not valid", errors)
    assert legal_rep is not None
    return legal_rep


def check_legal_rep(
    name: str | None, id_number: str | None, *, required: bool
) -> tuple[LegalRep | None, dict[str, list[str]]]:
    """:func:`clean_legal_rep` without raising: what is stored, or the errors per field (for
    forms that report every field at once)."""
    clean_name = (name or "").strip() or None
    raw = (id_number or "").strip() or None
    errors: dict[str, list[str]] = {}
    if clean_name is not None and not 2 <= len(clean_name) <= 100:
        errors["legal_rep_name"] = ["2–100 characters / 2至100个字符"]
    number = rules.clean_id_number(raw) if raw else None
    if raw and number is None:
        errors["legal_rep_id_number"] = [
            "不是有效的居民身份证号码（18位，校验位不符） / not a valid resident identity number "
            "(18 characters with the GB 11643 check digit)"
        ]
    if (clean_name is None) != (raw is None) or (required and clean_name is None):
        for field in ("legal_rep_name", "legal_rep_id_number"):
            if not (clean_name if field == "legal_rep_name" else raw):
                errors.setdefault(field, []).append(
                    "法定代表人姓名和身份证号须同时填写 / give the legal representative's name "
                    "and identity number together"
                )
    if errors:
        return None, errors
    if number is None:
        return LegalRep(clean_name, None, None), {}
    key = current_settings().party_hash_key
    return LegalRep(clean_name, rules.keyed_hash(key, number), masking.id_number(number)), {}


def _entries(identity: Identity, legal_rep: LegalRep) -> set[tuple[AttributeKind, str, str]]:
    found: set[tuple[AttributeKind, str, str]] = set()
    if legal_rep.id_hash:
        found.add(
            (
                AttributeKind.LEGAL_REPRESENTATIVE,
                legal_rep.id_hash,
                f"{masking.person_name(legal_rep.name)} {legal_rep.id_masked or ''}".strip(),
            )
        )
    for raw in identity.bank_accounts:
        key = rules.bank_key(raw)
        if key:
            found.add((AttributeKind.BANK_ACCOUNT, key, masking.bank_account(key)))
    for raw in identity.phones:
        key = rules.phone_key(raw)
        if key:
            found.add((AttributeKind.PHONE, key, masking.phone(key)))
    key = rules.address_key(identity.registered_address)
    if key and identity.registered_address:
        found.add((AttributeKind.ADDRESS, key[:300], identity.registered_address.strip()[:300]))
    for raw in identity.emails:
        key = rules.email_domain_key(raw)
        if key:
            found.add((AttributeKind.EMAIL_DOMAIN, key[:300], f"@{key}"[:300]))
    return found


def index_party(
    session: Session,
    party_kind: PartyKind,
    party_id: int,
    identity: Identity,
    legal_rep: LegalRep,
) -> None:
    """Replace the organisation's rows in the index with its current details."""
    wanted = _entries(identity, legal_rep)
    rows = list(
        session.scalars(
            sa.select(PartyAttribute).where(
                PartyAttribute.party_kind == party_kind, PartyAttribute.party_id == party_id
            )
        )
    )
    have = {(r.kind, r.value): r for r in rows}
    for (kind, value), stale in have.items():
        if not any(k == kind and v == value for k, v, _ in wanted):
            session.delete(stale)
    for kind, value, evidence in sorted(wanted):
        row = have.get((kind, value))
        if row is None:
            session.add(
                PartyAttribute(
                    party_kind=party_kind,
                    party_id=party_id,
                    kind=kind,
                    value=value,
                    evidence=evidence,
                )
            )
        else:
            row.evidence = evidence
    session.flush()


def attributes_of(session: Session, party_kind: PartyKind, party_id: int) -> list[PartyAttribute]:
    return list(
        session.scalars(
            sa.select(PartyAttribute)
            .where(PartyAttribute.party_kind == party_kind, PartyAttribute.party_id == party_id)
            .order_by(PartyAttribute.kind, PartyAttribute.id)
        )
    )


def matches_of(
    session: Session,
    party_kind: PartyKind,
    party_id: int,
    *,
    other_kind: PartyKind | None = None,
    kinds: Iterable[AttributeKind] | None = None,
) -> list[Match]:
    """Every other organisation sharing an attribute with this one (one indexed self-join),
    strong matches first."""
    mine = aliased(PartyAttribute)
    theirs = aliased(PartyAttribute)
    stmt = (
        sa.select(theirs.party_kind, theirs.party_id, theirs.kind, mine.evidence)
        .select_from(mine)
        .join(theirs, sa.and_(theirs.kind == mine.kind, theirs.value == mine.value))
        .where(
            mine.party_kind == party_kind,
            mine.party_id == party_id,
            sa.not_(sa.and_(theirs.party_kind == party_kind, theirs.party_id == party_id)),
        )
    )
    if other_kind is not None:
        stmt = stmt.where(theirs.party_kind == other_kind)
    if kinds is not None:
        stmt = stmt.where(mine.kind.in_(list(kinds)))
    found = {
        Match(PartyKind(k), int(i), AttributeKind(a), e) for k, i, a, e in session.execute(stmt)
    }
    return sorted(found, key=lambda m: (not m.is_strong, m.party_kind, m.party_id, m.kind))


def _shared_pairs(
    a: tuple[PartyKind, int], b: tuple[PartyKind, int]
) -> sa.Select[AttributeKind, str]:
    """The attributes of ``a`` whose kind and value ``b`` has too (one row each), over the
    (kind, value) index."""
    mine = aliased(PartyAttribute)
    theirs = aliased(PartyAttribute)
    return (
        sa.select(mine.kind, mine.evidence)
        .select_from(mine)
        .join(theirs, sa.and_(theirs.kind == mine.kind, theirs.value == mine.value))
        .where(
            mine.party_kind == a[0],
            mine.party_id == a[1],
            theirs.party_kind == b[0],
            theirs.party_id == b[1],
        )
    )


def shared_between(
    session: Session,
    a: tuple[PartyKind, int],
    b: tuple[PartyKind, int],
) -> list[Match]:
    """What organisations ``a`` and ``b`` share, strong first (empty: nothing)."""
    stmt = _shared_pairs(a, b)
    found = {Match(b[0], b[1], AttributeKind(k), e) for k, e in session.execute(stmt)}
    return sorted(found, key=lambda m: (not m.is_strong, m.kind))


def shares_strong(a: tuple[PartyKind, int], b: tuple[PartyKind, int]) -> sa.Exists:
    """Whether ``a`` and ``b`` share a strong attribute (one controller), as an EXISTS clause
    to check beside other facts in one statement; :func:`shared_between` says which."""
    pairs = _shared_pairs(a, b)
    kind = pairs.selected_columns[0]
    return pairs.where(kind.in_(list(STRONG))).exists()


def group_of(session: Session, enterprise_id: int) -> list[int]:
    """The enterprises under one controller with this one: connected through a shared strong
    attribute (legal representative or bank account), directly or via others. Sorted ids,
    the enterprise itself included; a breadth-first walk over the index, at most MAX_GROUP."""
    seen = {enterprise_id}
    frontier = [enterprise_id]
    while frontier and len(seen) < MAX_GROUP:
        # Two indexed steps (the members' values, then who else has them) rather than one
        # self-join, which SQLite's planner would run as a scan of every enterprise's rows.
        values = session.execute(
            sa.select(PartyAttribute.kind, PartyAttribute.value).where(
                PartyAttribute.party_kind == PartyKind.ENTERPRISE,
                PartyAttribute.party_id.in_(frontier),
                PartyAttribute.kind.in_(list(STRONG)),
            )
        ).all()
        found: set[int] = set()
        for kind in STRONG:
            wanted = sorted({v for k, v in values if k == kind})
            if wanted:
                found.update(
                    session.scalars(
                        sa.select(PartyAttribute.party_id).where(
                            PartyAttribute.kind == kind,
                            PartyAttribute.value.in_(wanted),
                            PartyAttribute.party_kind == PartyKind.ENTERPRISE,
                        )
                    )
                )
        frontier = sorted(found - seen)[: MAX_GROUP - len(seen)]
        seen.update(frontier)
    return sorted(seen)


def group_anchor(session: Session, enterprise_id: int) -> int:
    """The one enterprise whose quota a group under one controller shares (its lowest id)."""
    return group_of(session, enterprise_id)[0]
