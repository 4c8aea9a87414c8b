"""The administrators' and auditors' dashboard: every figure of issue 11 point 7, for one
year, as plain numbers (fen, counts, basis points) that the page draws as charts with a table
beside each, and that the API returns as they are.

Money is dated in Beijing time like the statistics (:mod:`marketplace.disclosure.services`):
issuance by the voucher's issue date, redemption by the capture of the hold. Each segment has
a click-through to its records (:func:`segment_orders`).
"""

from __future__ import annotations

import statistics as stats_lib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import clock, regions
from marketplace.disclosure.services import redemptions, statistics
from marketplace.enums import ServiceCategory
from marketplace.orders.enums import OrderStatus
from marketplace.orders.models import Order, OrderEvent
from marketplace.outcomes.enums import SummaryBy
from marketplace.outcomes.services import COUNTED, prefecture, summary
from marketplace.risk.enums import FindingOutcome, Rule
from marketplace.risk.models import Finding, OrderRisk, RiskFlag
from marketplace.settlement import payouts
from marketplace.settlement.enums import PayoutLineStatus
from marketplace.settlement.models import PayoutItem
from providers.models import Service
from vouchers import funders
from vouchers.enums import HoldStatus
from vouchers.models import Enterprise, Hold, Programme, Voucher

BPS = 10_000
TOP_PROVIDERS = 15
#: Days from agreement to payout, as an auditor groups them.
DAY_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 7, "0–7"),
    (8, 14, "8–14"),
    (15, 30, "15–30"),
    (31, 60, "31–60"),
    (61, None, "61+"),
)


def _bps(part: int, whole: int) -> int:
    return part * BPS // whole if whole > 0 else 0


def _budgets(session: Session, year: int) -> list[dict[str, Any]]:
    stats = statistics(session, year)
    issued = dict(
        session.execute(
            sa.select(Voucher.programme_id, sa.func.sum(Voucher.face_value_fen))
            .join(Programme, Programme.id == Voucher.programme_id)
            .where(Programme.year == year)
            .group_by(Voucher.programme_id)
        ).all()
    )
    rows = []
    for b in stats.budgets:
        issued_fen = int(issued.get(b.programme.id, 0) or 0)
        rows.append(
            {
                "programme_id": b.programme.id,
                "name": b.programme.name,
                "total_fen": b.total_fen,
                "committed_fen": b.committed_fen,
                "spent_fen": b.spent_fen,
                "settled_fen": b.paid_out_fen,
                "issued_fen": issued_fen,
                # Redemption rate: voucher money spent of what was issued.
                "redemption_bps": _bps(b.spent_fen, issued_fen),
            }
        )
    return rows


def _funders(session: Session, year: int) -> list[dict[str, Any]]:
    """Per co-funded programme of ``year`` and funder: its budget and the funder leg's
    balances (:func:`vouchers.funders.standings`), and what its treasury's payout batches
    hold unconfirmed (``in_payout_fen``) and paid (``paid_fen``, = the ledger's funder_paid)."""
    programmes = list(
        session.scalars(
            sa.select(Programme)
            .where(Programme.year == year, Programme.co_funded.is_(True))
            .order_by(Programme.id)
        )
    )
    pending = payouts.item_totals(
        session,
        PayoutLineStatus.PENDING,
        PayoutItem.programme_id.in_([p.id for p in programmes]),
    )
    return [
        {
            "programme_id": programme.id,
            "programme": programme.name,
            "funder_id": s.funder.id,
            "name": s.funder.name,
            "region_code": s.funder.region_code,
            "budget_fen": s.budget_fen,
            "held_fen": s.held_fen,
            "spent_fen": s.spent_fen,
            "in_payout_fen": pending.get((programme.id, s.funder.id), 0),
            "paid_fen": s.paid_fen,
            "available_fen": s.available_fen,
        }
        for programme in programmes
        for s in funders.standings(session, programme.id)
    ]


def _redeemed_orders(session: Session, year: int) -> list[tuple[Any, ...]]:
    start, end = clock.year_span(year)
    return list(
        session.execute(
            sa.select(
                Order.id,
                Hold.captured_fen,
                Hold.resolved_at,
                Enterprise.region_code,
                Service.category,
            )
            .join(Hold, Hold.id == Order.hold_id)
            .join(Enterprise, Enterprise.id == Order.enterprise_id)
            .join(Service, Service.id == Order.service_id)
            .where(
                Hold.status == HoldStatus.CAPTURED,
                Hold.resolved_at >= start,
                Hold.resolved_at < end,
            )
        )
    )


def _regions(session: Session, year: int, redeemed: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    start, end = clock.year_span(year)
    issued: Counter[str] = Counter()
    for fen, code in session.execute(
        sa.select(Voucher.face_value_fen, Enterprise.region_code)
        .join(Enterprise, Enterprise.id == Voucher.enterprise_id)
        .where(Voucher.issued_at >= start, Voucher.issued_at < end)
    ):
        issued[code] += int(fen)
    used: Counter[str] = Counter()
    for _oid, fen, _at, code, _cat in redeemed:
        used[code] += int(fen)
    rows = []
    for code in sorted(set(issued) | set(used)):
        pref = prefecture(code)
        rows.append(
            {
                "code": code,
                "name": regions.name(code) or code,
                "prefecture": pref,
                "prefecture_name": regions.name(pref) or pref,
                "issued_fen": issued[code],
                "redeemed_fen": used[code],
            }
        )
    return rows


def _prefectures(counties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for c in counties:
        row = rows.setdefault(
            c["prefecture"],
            {
                "code": c["prefecture"],
                "name": c["prefecture_name"],
                "issued_fen": 0,
                "redeemed_fen": 0,
            },
        )
        row["issued_fen"] += c["issued_fen"]
        row["redeemed_fen"] += c["redeemed_fen"]
    return [rows[k] for k in sorted(rows)]


def _categories(redeemed: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    orders: Counter[str] = Counter()
    money: Counter[str] = Counter()
    for _oid, fen, _at, _code, category in redeemed:
        key = ServiceCategory(category).value
        orders[key] += 1
        money[key] += int(fen)
    return [
        {
            "category": c.value,
            "label_zh": c.zh,
            "label_en": c.en,
            "orders": orders[c.value],
            "redeemed_fen": money[c.value],
        }
        for c in ServiceCategory
        if orders[c.value]
    ]


def _payout_days(session: Session, year: int) -> dict[str, Any]:
    start, end = clock.year_span(year)
    rows = session.execute(
        sa.select(Order.agreement_accepted_at, sa.func.min(OrderEvent.occurred_at))
        .join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(
            OrderEvent.to_status == OrderStatus.PAID_OUT,
            OrderEvent.occurred_at >= start,
            OrderEvent.occurred_at < end,
            Order.agreement_accepted_at.is_not(None),
        )
        .group_by(Order.id, Order.agreement_accepted_at)
    )
    days = sorted(
        (clock.local_date(paid) - clock.local_date(agreed)).days
        for agreed, paid in rows
        if agreed is not None and paid is not None
    )
    buckets = []
    for low, high, label in DAY_BUCKETS:
        count = sum(1 for d in days if d >= low and (high is None or d <= high))
        buckets.append({"label": label, "low": low, "high": high, "orders": count})
    return {
        "orders": len(days),
        "median_days": stats_lib.median(days) if days else None,
        "buckets": buckets,
    }


def _risk(session: Session, year: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    programme_ids = list(session.scalars(sa.select(Programme.id).where(Programme.year == year)))
    flag_counts = dict(
        session.execute(
            sa.select(RiskFlag.rule, sa.func.count(RiskFlag.id))
            .join(OrderRisk, OrderRisk.order_id == RiskFlag.order_id)
            .where(OrderRisk.programme_id.in_(programme_ids))
            .group_by(RiskFlag.rule)
        ).all()
    )
    flags = [
        {"rule": r.value, "label_zh": r.zh, "label_en": r.en, "orders": int(flag_counts.get(r, 0))}
        for r in Rule
    ]
    finding_counts = dict(
        session.execute(
            sa.select(Finding.outcome, sa.func.count(Finding.id))
            .join(OrderRisk, OrderRisk.order_id == Finding.order_id)
            .where(OrderRisk.programme_id.in_(programme_ids))
            .group_by(Finding.outcome)
        ).all()
    )
    findings = [
        {
            "outcome": o.value,
            "label_zh": o.zh,
            "label_en": o.en,
            "count": int(finding_counts.get(o, 0)),
        }
        for o in FindingOutcome
    ]
    return flags, findings


def outcome_rows(session: Session, year: int, by: SummaryBy) -> list[dict[str, Any]]:
    """Outcomes of the year's completed voucher orders per programme, service category or
    prefecture: the counts, and each per ¥10,000 of voucher money (×100)."""
    rows = []
    for r in summary(session, by, year=year):
        row: dict[str, Any] = {"programme_id": int(r.key)} if by is SummaryBy.PROGRAMME else {}
        row |= {
            "key": r.key,
            "name": r.label_zh,
            "label_zh": r.label_zh,
            "label_en": r.label_en,
            "orders": r.orders,
            "reported": r.reported,
            "voucher_fen": r.voucher_fen,
            **{count: getattr(r, count) for count in COUNTED},
            "revenue_effect_fen": r.revenue_effect_fen,
            "cost_effect_fen": r.cost_effect_fen,
            **{f"{count}_per_10k_x100": r.per_10k_x100[count] for count in COUNTED},
        }
        rows.append(row)
    return rows


def figures(session: Session, year: int) -> dict[str, Any]:
    """Every figure of the dashboard for ``year`` (see the module docstring)."""
    stats = statistics(session, year)
    redeemed = _redeemed_orders(session, year)
    counties = _regions(session, year, redeemed)
    flags, findings = _risk(session, year)
    return {
        "year": year,
        "budgets": _budgets(session, year),
        "funders": _funders(session, year),
        "months": [
            {
                "month": m,
                "issued_fen": stats.issued_by_month.get(m, 0),
                "redeemed_fen": stats.redeemed_by_month.get(m, 0),
            }
            for m in range(1, 13)
        ],
        "counties": counties,
        "prefectures": _prefectures(counties),
        "categories": _categories(redeemed),
        "providers": [
            {
                "provider_id": r.provider_id,
                "name": r.provider_name,
                "orders": r.orders,
                "redeemed_fen": r.redeemed_fen,
            }
            for r in redemptions(session, year)[:TOP_PROVIDERS]
        ],
        "payout_days": _payout_days(session, year),
        "flags": flags,
        "findings": findings,
        "outcomes": outcome_rows(session, year, SummaryBy.PROGRAMME),
        "outcomes_by_category": outcome_rows(session, year, SummaryBy.CATEGORY),
        "outcomes_by_prefecture": outcome_rows(session, year, SummaryBy.REGION),
    }


@dataclass(frozen=True, slots=True)
class Segment:
    """One bar of a chart, as a filter on orders with voucher money (the click-through)."""

    year: int
    programme_id: int | None = None
    region: str | None = None
    category: str | None = None
    provider_id: int | None = None
    month: int | None = None


def segment_orders(session: Session, segment: Segment, *, limit: int = 200) -> list[Order]:
    """The orders behind a segment: voucher orders of the year's programmes (by month: those
    whose voucher part was captured that month), newest first."""
    stmt = (
        sa.select(Order)
        .join(Voucher, Voucher.id == Order.voucher_id)
        .join(Programme, Programme.id == Voucher.programme_id)
        .where(Programme.year == segment.year)
        .order_by(Order.id.desc())
        .limit(limit)
    )
    if segment.programme_id is not None:
        stmt = stmt.where(Programme.id == segment.programme_id)
    if segment.provider_id is not None:
        stmt = stmt.where(Order.provider_id == segment.provider_id)
    if segment.region:
        stmt = stmt.join(Enterprise, Enterprise.id == Order.enterprise_id)
        if segment.region.endswith("00"):
            stmt = stmt.where(Enterprise.region_code.startswith(segment.region[:4]))
        else:
            stmt = stmt.where(Enterprise.region_code == segment.region)
    if segment.category:
        stmt = stmt.join(Service, Service.id == Order.service_id).where(
            Service.category == ServiceCategory(segment.category)
        )
    if segment.month is not None:
        first, following = clock.month_span(segment.year, segment.month)
        stmt = stmt.join(Hold, Hold.id == Order.hold_id).where(
            Hold.status == HoldStatus.CAPTURED,
            Hold.resolved_at >= first,
            Hold.resolved_at < following,
        )
    return list(session.scalars(stmt))
