"""Recording outcomes (the SME of a completed order, for one year) and summarising them.

"Outcomes per ¥10,000" divide each count by the voucher money (the voucher part of the
orders) of the same group, so programmes of different sizes compare: ×100 integers
(``per_10k_x100``), never floats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import clock, regions
from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.enums import ServiceCategory
from marketplace.errors import NotFound, PermissionDenied, PreconditionFailed, ValidationFailed
from marketplace.orders.enums import OrderStatus
from marketplace.orders.models import Order
from marketplace.outcomes.enums import PatentType, SummaryBy
from marketplace.outcomes.errors import OrderNotCompleted, OutcomeLocked
from marketplace.outcomes.models import OrderOutcome
from providers.models import Service
from vouchers.models import Enterprise, Programme, Voucher

#: The order was confirmed by the SME, whatever happened to the claim since.
COMPLETED = frozenset(
    {
        OrderStatus.CONFIRMED,
        OrderStatus.CLAIMED,
        OrderStatus.CLAIM_APPROVED,
        OrderStatus.PAID_OUT,
        OrderStatus.SETTLED,
    }
)
EDITABLE_DAYS = 365
MAX_COUNT = 10_000
MAX_EFFECT_FEN = 10**13
MAX_PATENTS = 50
PATENT_NUMBER = re.compile(r"^[A-Z0-9.\-]{6,30}$")
TEN_THOUSAND_YUAN_FEN = 1_000_000


@dataclass(frozen=True, slots=True)
class OutcomeInput:
    patents: tuple[tuple[str, PatentType], ...] = ()
    certifications: int = 0
    certification_note: str = ""
    high_tech_recognised: bool = False
    new_products: int = 0
    new_processes: int = 0
    revenue_effect_fen: int = 0
    cost_effect_fen: int = 0
    notes: str = ""


def _check(data: OutcomeInput) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    patents: list[dict[str, Any]] = []
    if len(data.patents) > MAX_PATENTS:
        errors["patents"] = [f"at most {MAX_PATENTS} / 最多{MAX_PATENTS}项"]
    for number, kind in data.patents[:MAX_PATENTS]:
        clean = (number or "").strip().upper().replace(" ", "")
        if not PATENT_NUMBER.match(clean):
            errors.setdefault("patents", []).append(
                f"{number!r}: 申请号为6–30位字母数字 / an application number of 6–30 letters and "
                "digits"
            )
            continue
        patents.append({"number": clean, "type": PatentType(kind).value})
    for name in ("certifications", "new_products", "new_processes"):
        if not 0 <= getattr(data, name) <= MAX_COUNT:
            errors[name] = [f"0–{MAX_COUNT}"]
    for name in ("revenue_effect_fen", "cost_effect_fen"):
        value = getattr(data, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_EFFECT_FEN
        ):
            errors[name] = ["0 或正数（分） / zero or a positive amount in fen"]
    for name, limit in (("certification_note", 2000), ("notes", 5000)):
        text = getattr(data, name) or ""
        if len(text) > limit or "\x00" in text:
            errors[name] = [f"at most {limit} characters / 不超过{limit}字"]
    return patents, errors


def editable_until(order: Order) -> date:
    assert order.confirmed_at is not None
    return clock.local_date(order.confirmed_at) + timedelta(days=EDITABLE_DAYS)


def get_outcome(session: Session, order_id: int) -> OrderOutcome | None:
    return session.scalar(sa.select(OrderOutcome).where(OrderOutcome.order_id == order_id))


def record_outcome(
    session: Session,
    order: Order,
    user: User,
    data: OutcomeInput,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> OrderOutcome:
    """Create or edit the order's outcomes: only the SME of the order, only once it is
    completed, and for one year after confirmation.

    Raises PermissionDenied, OrderNotCompleted, OutcomeLocked, PreconditionFailed (a stale
    version), ValidationFailed."""
    now = now or utcnow()
    if user.enterprise_id is None or user.enterprise_id != order.enterprise_id:
        raise PermissionDenied("只有下单企业可以填报成效 / only the ordering SME records outcomes")
    if order.status not in COMPLETED or order.confirmed_at is None:
        raise OrderNotCompleted(
            "订单验收后才能填报成效 / record outcomes once the order is confirmed"
        )
    until = editable_until(order)
    if clock.local_date(now) > until:
        raise OutcomeLocked(
            f"成效填报期已于 {until} 结束 / outcomes could be edited until {until}",
            extra={"editable_until": until.isoformat()},
        )
    patents, errors = _check(data)
    if errors:
        raise ValidationFailed("成效信息有误 / the outcomes are not valid", errors)
    outcome = get_outcome(session, order.id)
    created = outcome is None
    if outcome is None:
        outcome = OrderOutcome(order_id=order.id, editable_until=until, version=0)
        session.add(outcome)
    elif expected_version is not None and outcome.version != expected_version:
        raise PreconditionFailed(
            "成效已被修改，请刷新 / the outcomes changed since you loaded them"
        )
    outcome.patents = patents
    outcome.patent_count = len(patents)
    outcome.certifications = data.certifications
    outcome.certification_note = (data.certification_note or "").strip()
    outcome.high_tech_recognised = bool(data.high_tech_recognised)
    outcome.new_products = data.new_products
    outcome.new_processes = data.new_processes
    outcome.revenue_effect_fen = data.revenue_effect_fen
    outcome.cost_effect_fen = data.cost_effect_fen
    outcome.notes = (data.notes or "").strip()
    outcome.recorded_by_id = user.id
    outcome.version = (outcome.version or 0) + 1
    session.flush()
    record(
        session,
        "outcome.recorded" if created else "outcome.updated",
        actor_id=user.id,
        subject_type="order",
        subject_id=order.id,
        patents=len(patents),
        certifications=data.certifications,
        high_tech=bool(data.high_tech_recognised),
    )
    return outcome


# --------------------------------------------------------------------------- summaries


@dataclass
class SummaryRow:
    key: str
    label_zh: str
    label_en: str
    orders: int = 0
    reported: int = 0
    voucher_fen: int = 0
    patents: int = 0
    certifications: int = 0
    high_tech: int = 0
    new_products: int = 0
    new_processes: int = 0
    revenue_effect_fen: int = 0
    cost_effect_fen: int = 0
    per_10k_x100: dict[str, int] = field(default_factory=dict)


COUNTED = ("patents", "certifications", "high_tech", "new_products", "new_processes")


def per_10k_x100(count: int, voucher_fen: int) -> int:
    """``count`` per ¥10,000 of voucher money, ×100, rounded half up (0 without money)."""
    if voucher_fen <= 0:
        return 0
    return (2 * count * TEN_THOUSAND_YUAN_FEN * 100 + voucher_fen) // (2 * voucher_fen)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which completed voucher orders a summary or a list covers (a summary row's records)."""

    year: int | None = None
    programme_id: int | None = None
    category: ServiceCategory | None = None
    prefecture: str | None = None  # a prefecture code (530100): its counties' enterprises


def _completed(scope: Scope, *columns: Any) -> sa.Select[Any]:
    """Completed orders with voucher money in ``scope``, with their outcome (if any)."""
    stmt = (
        sa.select(*columns)
        .select_from(Order)
        .join(Voucher, Voucher.id == Order.voucher_id)
        .join(Programme, Programme.id == Voucher.programme_id)
        .join(Service, Service.id == Order.service_id)
        .join(Enterprise, Enterprise.id == Order.enterprise_id)
        .outerjoin(OrderOutcome, OrderOutcome.order_id == Order.id)
        .where(Order.status.in_(list(COMPLETED)), Order.voucher_part_fen > 0)
    )
    if scope.year is not None:
        stmt = stmt.where(Programme.year == scope.year)
    if scope.programme_id is not None:
        stmt = stmt.where(Programme.id == scope.programme_id)
    if scope.category is not None:
        stmt = stmt.where(Service.category == scope.category)
    if scope.prefecture is not None:
        stmt = stmt.where(Enterprise.region_code.startswith(scope.prefecture[:4]))
    return stmt


def summary(session: Session, by: SummaryBy, *, year: int | None = None) -> list[SummaryRow]:
    """Completed orders with voucher money, grouped by programme, service category or the
    enterprise's prefecture; how many reported outcomes, and the outcomes per ¥10,000."""
    stmt = _completed(
        Scope(year=year),
        Order.id,
        Order.voucher_part_fen,
        Programme.id,
        Programme.name,
        Service.category,
        Enterprise.region_code,
        OrderOutcome,
    )
    rows: dict[str, SummaryRow] = {}
    for _oid, fen, pid, pname, category, region, outcome in session.execute(stmt):
        if by is SummaryBy.PROGRAMME:
            key, zh, en = str(pid), pname, pname
        elif by is SummaryBy.CATEGORY:
            cat = ServiceCategory(category)
            key, zh, en = cat.value, cat.zh, cat.en
        else:
            key = prefecture(region)
            zh = en = regions.full_name(key) or key
        row = rows.setdefault(key, SummaryRow(key, zh, en))
        row.orders += 1
        row.voucher_fen += int(fen)
        if outcome is not None:
            row.reported += 1
            row.patents += outcome.patent_count
            row.certifications += outcome.certifications
            row.high_tech += int(outcome.high_tech_recognised)
            row.new_products += outcome.new_products
            row.new_processes += outcome.new_processes
            row.revenue_effect_fen += outcome.revenue_effect_fen
            row.cost_effect_fen += outcome.cost_effect_fen
    for row in rows.values():
        row.per_10k_x100 = {c: per_10k_x100(getattr(row, c), row.voucher_fen) for c in COUNTED}
    return sorted(rows.values(), key=lambda r: r.key)


def records(
    session: Session, scope: Scope, *, limit: int = 500
) -> list[tuple[Order, OrderOutcome | None]]:
    """The records behind a summary row: its completed voucher orders, newest first, each
    with its outcomes or None (not reported: what an administrator follows up)."""
    stmt = _completed(scope, Order, OrderOutcome).order_by(Order.id.desc()).limit(limit)
    return [(order, outcome) for order, outcome in session.execute(stmt)]


def prefecture(region_code: str) -> str:
    """The prefecture (地级) of a county code: 530102 → 530100."""
    return (region_code or "")[:4].ljust(4, "0") + "00"


def outcomes_query(*, order_id: int | None = None) -> sa.Select[OrderOutcome]:
    stmt = sa.select(OrderOutcome).order_by(OrderOutcome.id.desc())
    if order_id is not None:
        stmt = stmt.where(OrderOutcome.order_id == order_id)
    return stmt


def require_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id) if 0 < order_id < 2**62 else None
    if order is None:
        raise NotFound("没有该订单 / no such order")
    return order
