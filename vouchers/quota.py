"""The per-enterprise, per-calendar-year quota rows that make the annual cap race-safe.

A programme with ``cap_scope = shared`` counts against the enterprise's one shared cap for the
year (the policy's ¥30,000 across programmes); a programme with its own cap has a separate
row. Rows are created on first use with INSERT … ON CONFLICT DO NOTHING and locked with
SELECT … FOR UPDATE (SQLite: the write lock taken at BEGIN IMMEDIATE).

Lock order, everywhere in this package: application → voucher → quota rows (ascending id) →
hold → ledger accounts (ascending id). Keeping one order means two transactions never wait
for each other in a cycle (no deadlocks on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.parties.services import group_of
from vouchers.enums import CapScope, VoucherStatus
from vouchers.ledger import insert_ignoring_conflict
from vouchers.models import DEFAULT_ANNUAL_CAP_FEN, Programme, Quota, Voucher
from vouchers.rules import cap_remaining

SHARED_SCOPE = "shared"


@dataclass(frozen=True, slots=True)
class Scope:
    key: str
    programme_id: int | None
    cap_fen: int


def scope_of(programme: Programme) -> Scope:
    if programme.cap_scope is CapScope.PROGRAMME:
        return Scope(f"programme:{programme.id}", programme.id, programme.annual_cap_fen)
    return Scope(SHARED_SCOPE, None, DEFAULT_ANNUAL_CAP_FEN)


def lock_quota(session: Session, enterprise_id: int, year: int, programme: Programme) -> Quota:
    """The quota row for this enterprise, year and the programme's cap scope, created if
    missing and locked for the rest of the transaction."""
    scope = scope_of(programme)
    locking = (
        sa.select(Quota)
        .where(Quota.enterprise_id == enterprise_id, Quota.year == year, Quota.scope == scope.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    # The row exists after an enterprise's first hold of the year: read it first, and only
    # when it is missing pay the race-free insert (one round trip less on every later hold).
    quota = session.scalars(locking).one_or_none()
    if quota is not None:
        return quota
    insert_ignoring_conflict(
        session,
        Quota.__table__,  # type: ignore[arg-type]
        {
            "enterprise_id": enterprise_id,
            "year": year,
            "scope": scope.key,
            "programme_id": scope.programme_id,
            "cap_fen": scope.cap_fen,
            "used_fen": 0,
            "held_fen": 0,
        },
        ["enterprise_id", "year", "scope"],
    )
    return session.scalars(locking).one()


def lock_group_quotas(
    session: Session, enterprise_id: int, year: int, programme: Programme
) -> list[Quota]:
    """With the programme's ``group_cap``: the quota rows of every enterprise under one
    controller with this one (marketplace.parties.group_of), created if missing and locked in
    ascending enterprise order (one order everywhere, so two members' holds never deadlock).
    Without it, or for an enterprise in no group, just its own row."""
    members = group_of(session, enterprise_id) if programme.group_cap else [enterprise_id]
    return [lock_quota(session, member, year, programme) for member in members]


def group_remaining(quotas: list[Quota]) -> int:
    """What the group may still use under one cap: the same arithmetic as one enterprise's
    (rules.cap_remaining), over the members' used and held amounts together."""
    cap = min(q.cap_fen for q in quotas)
    return cap_remaining(cap, sum(q.used_fen for q in quotas), sum(q.held_fen for q in quotas))


def lock_quota_by_id(session: Session, quota_id: int) -> Quota:
    return session.scalars(
        sa.select(Quota)
        .where(Quota.id == quota_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


@dataclass(frozen=True, slots=True)
class QuotaView:
    year: int
    scope: str
    programme_id: int | None
    cap_fen: int
    used_fen: int
    held_fen: int

    @property
    def remaining_fen(self) -> int:
        return max(0, self.cap_fen - self.used_fen - self.held_fen)


def read_quota(session: Session, enterprise_id: int, year: int, programme: Programme) -> QuotaView:
    """What the quota row says now, without creating or locking it (zeros if never used)."""
    scope = scope_of(programme)
    quota = session.scalar(
        sa.select(Quota).where(
            Quota.enterprise_id == enterprise_id, Quota.year == year, Quota.scope == scope.key
        )
    )
    if quota is None:
        return QuotaView(year, scope.key, scope.programme_id, scope.cap_fen, 0, 0)
    return QuotaView(
        year, quota.scope, quota.programme_id, quota.cap_fen, quota.used_fen, quota.held_fen
    )


def outstanding_in_scope(
    session: Session, enterprise_id: int, year: int, programme: Programme
) -> int:
    """Unspent balance of the enterprise's live vouchers that count against the same cap in
    the same year (used when deciding how much more may be issued)."""
    scope = scope_of(programme)
    stmt = (
        sa.select(sa.func.coalesce(sa.func.sum(Voucher.balance_fen), 0))
        .join(Programme, Programme.id == Voucher.programme_id)
        .where(
            Voucher.enterprise_id == enterprise_id,
            Voucher.status.in_([VoucherStatus.ACTIVE, VoucherStatus.EXHAUSTED]),
            Programme.year == year,
        )
    )
    if scope.programme_id is None:
        stmt = stmt.where(Programme.cap_scope == CapScope.SHARED)
    else:
        stmt = stmt.where(Programme.id == scope.programme_id)
    return int(session.scalar(stmt) or 0)
