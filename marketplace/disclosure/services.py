"""What the platform publishes and measures. Read-only queries; no personal data.

Published per voucher: the enterprise's name, credit code (a public registration number) and
region, the programme, the amount granted, the date and who pays the voucher's part (the
funders and their shares) — never contacts or users (rule 11).
Redemptions are published per provider and per paying treasury (the funders of a co-funded
programme by their recorded parts): how many orders and how much voucher money.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.credit_code import region_name
from marketplace.money import format_bps
from providers.models import Provider
from vouchers.enums import HoldStatus, VoucherStatus
from vouchers.funders import FunderRedemption, VoucherPayer, payers_of, redeemed_by_funder
from vouchers.models import Enterprise, Hold, Programme, Voucher
from vouchers.programmes import Budget, budgets

#: Vouchers are dated in China time (UTC+8) for publication, as the programmes are.
CHINA = timedelta(hours=8)


@dataclass(frozen=True)
class Grant:
    voucher_id: int
    serial: str
    enterprise_name: str
    credit_code: str
    region: str
    programme_id: int
    programme_name: str
    face_value_fen: int
    issued_on: date
    revoked: bool
    payers: list[VoucherPayer]


def grants_query(year: int, programme_id: int | None = None) -> sa.Select[Voucher]:
    """Vouchers issued in ``year`` (China time), newest first by id."""
    start, end = clock.year_span(year)
    stmt = sa.select(Voucher).where(Voucher.issued_at >= start, Voucher.issued_at < end)
    if programme_id is not None:
        stmt = stmt.where(Voucher.programme_id == programme_id)
    return stmt


def as_grants(session: Session, vouchers: Sequence[Voucher]) -> list[Grant]:
    payers = payers_of(session, vouchers)
    return [
        Grant(
            voucher_id=voucher.id,
            serial=voucher.serial,
            enterprise_name=voucher.enterprise.name,
            credit_code=voucher.enterprise.credit_code,
            region=region_name(voucher.enterprise.region_code),
            programme_id=voucher.programme_id,
            programme_name=voucher.programme.name,
            face_value_fen=voucher.face_value_fen,
            issued_on=(voucher.issued_at + CHINA).date(),
            revoked=voucher.status is VoucherStatus.REVOKED,
            payers=payers[voucher.id],
        )
        for voucher in vouchers
    ]


def grants(session: Session, year: int, programme_id: int | None = None) -> list[Grant]:
    stmt = grants_query(year, programme_id).order_by(Voucher.issued_at, Voucher.id)
    return as_grants(session, list(session.scalars(stmt)))


def payers_text(payers: Sequence[VoucherPayer]) -> str:
    """One cell of the published file: ``云南省科学技术厅 50%；玉溪市财政局 50%``."""
    return "；".join(
        f"{p.funder_name or (p.funding_body.zh if p.funding_body else '')} {format_bps(p.share_bps)}"
        for p in payers
    )


@dataclass(frozen=True)
class Redemption:
    provider_id: int
    provider_name: str
    orders: int
    redeemed_fen: int


def redemptions(session: Session, year: int) -> list[Redemption]:
    """Voucher money captured per provider for holds resolved in ``year``."""
    start, end = clock.year_span(year)
    rows = session.execute(
        sa.select(
            Provider.id, Provider.name, sa.func.count(Hold.id), sa.func.sum(Hold.captured_fen)
        )
        .join(Hold, Hold.provider_id == Provider.id)
        .where(
            Hold.status == HoldStatus.CAPTURED, Hold.resolved_at >= start, Hold.resolved_at < end
        )
        .group_by(Provider.id, Provider.name)
        .order_by(sa.func.sum(Hold.captured_fen).desc(), Provider.id)
    )
    return [Redemption(pid, name, int(n), int(total or 0)) for pid, name, n, total in rows]


@dataclass
class Statistics:
    year: int
    budgets: list[Budget]
    vouchers_issued: int = 0
    issued_fen: int = 0
    enterprises_served: int = 0
    redeemed_fen: int = 0
    by_region: dict[str, int] = field(default_factory=dict)  # region → face value issued
    by_size: dict[str, int] = field(default_factory=dict)
    issued_by_month: dict[int, int] = field(default_factory=dict)
    redeemed_by_month: dict[int, int] = field(default_factory=dict)
    #: Voucher money captured in the year per paying treasury (issue 14: funders' shares).
    by_funder: list[FunderRedemption] = field(default_factory=list)


def funder_redemptions(session: Session, year: int) -> list[FunderRedemption]:
    """Voucher money captured for holds resolved in ``year``, per paying treasury (rule 7)."""
    start, end = clock.year_span(year)
    return redeemed_by_funder(session, start, end)


def statistics(session: Session, year: int) -> Statistics:
    """Issuance and use for ``year`` (rule 12): budgets, totals, regions, sizes, months."""
    programme_ids = list(session.scalars(sa.select(Programme.id).where(Programme.year == year)))
    stats = Statistics(year=year, budgets=budgets(session, programme_ids))
    start, end = clock.year_span(year)
    by_region: dict[str, int] = defaultdict(int)
    by_size: dict[str, int] = defaultdict(int)
    by_month: dict[int, int] = defaultdict(int)
    enterprises: set[int] = set()
    rows = session.execute(
        sa.select(
            Voucher.face_value_fen,
            Voucher.issued_at,
            Enterprise.id,
            Enterprise.region_code,
            Enterprise.size_class,
        )
        .join(Enterprise, Enterprise.id == Voucher.enterprise_id)
        .where(Voucher.issued_at >= start, Voucher.issued_at < end)
    )
    for face_value, issued_at, enterprise_id, region_code, size_class in rows:
        stats.vouchers_issued += 1
        stats.issued_fen += face_value
        enterprises.add(enterprise_id)
        by_region[region_name(region_code) or region_code] += face_value
        by_size[str(size_class.value)] += face_value
        by_month[(issued_at + CHINA).month] += face_value
    stats.enterprises_served = len(enterprises)
    redeemed_by_month: dict[int, int] = defaultdict(int)
    for captured, resolved_at in session.execute(
        sa.select(Hold.captured_fen, Hold.resolved_at).where(
            Hold.status == HoldStatus.CAPTURED, Hold.resolved_at >= start, Hold.resolved_at < end
        )
    ):
        assert resolved_at is not None  # a captured hold is resolved
        stats.redeemed_fen += captured
        redeemed_by_month[(resolved_at + CHINA).month] += captured
    stats.by_region = dict(sorted(by_region.items(), key=lambda kv: -kv[1]))
    stats.by_size = dict(by_size)
    stats.issued_by_month = dict(sorted(by_month.items()))
    stats.redeemed_by_month = dict(sorted(redeemed_by_month.items()))
    stats.by_funder = redeemed_by_funder(session, start, end)
    return stats
