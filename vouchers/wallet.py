"""The enterprise's wallet: its vouchers, what it has used and holds, and what is left of its
annual cap. Read only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.db import utcnow
from vouchers.enums import CapScope, VoucherStatus
from vouchers.models import DEFAULT_ANNUAL_CAP_FEN, Programme, Quota, Voucher
from vouchers.quota import SHARED_SCOPE, QuotaView


@dataclass(frozen=True, slots=True)
class Wallet:
    year: int
    shared: QuotaView
    own_caps: list[tuple[Programme, QuotaView]]
    vouchers: list[Voucher]

    @property
    def balance_fen(self) -> int:
        return sum(v.balance_fen for v in self.vouchers if v.status.is_live)


def wallet_of(session: Session, enterprise_id: int, now: datetime | None = None) -> Wallet:
    """The enterprise's cap, used, held and remaining for the current (China) calendar year,
    across programmes, plus programmes with their own cap, and every voucher."""
    year = clock.local_date(now or utcnow()).year
    quotas = {
        q.scope: q
        for q in session.scalars(
            sa.select(Quota).where(Quota.enterprise_id == enterprise_id, Quota.year == year)
        )
    }

    def view(scope: str, programme_id: int | None, cap: int) -> QuotaView:
        q = quotas.get(scope)
        if q is None:
            return QuotaView(year, scope, programme_id, cap, 0, 0)
        return QuotaView(year, q.scope, q.programme_id, q.cap_fen, q.used_fen, q.held_fen)

    vouchers = list(
        session.scalars(
            sa.select(Voucher)
            .where(Voucher.enterprise_id == enterprise_id)
            .order_by(Voucher.issued_at.desc(), Voucher.id.desc())
        )
    )
    own: dict[int, Programme] = {
        v.programme.id: v.programme
        for v in vouchers
        if v.programme.cap_scope is CapScope.PROGRAMME and v.status is not VoucherStatus.REVOKED
    }
    own_caps = [
        (p, view(f"programme:{p.id}", p.id, p.annual_cap_fen))
        for p in sorted(own.values(), key=lambda p: p.id)
    ]
    return Wallet(
        year=year,
        shared=view(SHARED_SCOPE, None, DEFAULT_ANNUAL_CAP_FEN),
        own_caps=own_caps,
        vouchers=vouchers,
    )
