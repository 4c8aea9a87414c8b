"""Assessing orders against the risk rules, drawing weighted samples, recording findings.

:func:`assess` gathers every agreed order's facts in a few set-wise queries (medians, shares
and monthly counts are computed once per run, not per order), runs the pure rules of
:mod:`marketplace.risk.rules`, and stores each order's flags and score. Sampling and the
dashboards read what was stored; ``flask risk assess`` (and drawing a sample) refresh it.
"""

from __future__ import annotations

import secrets
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from marketplace import clock
from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import NotFound, ValidationFailed
from marketplace.orders.enums import OrderStatus
from marketplace.orders.files import OrderFileStorage, Upload, store
from marketplace.orders.models import Invoice, Order
from marketplace.parties.enums import STRONG, PartyKind
from marketplace.parties.services import shared_between
from marketplace.risk import rules
from marketplace.risk.enums import FindingOutcome, FollowUp, Rule
from marketplace.risk.errors import EmptyPopulation, FindingAlreadyRecorded
from marketplace.risk.models import (
    AuditSample,
    Finding,
    FindingDocument,
    OrderRisk,
    RiskFlag,
    RiskSetting,
    SampleItem,
)
from marketplace.settlement.models import ClaimLine
from providers.credit import record_credit_event
from providers.enums import CreditEventKind
from providers.models import Service
from vouchers.enterprises import blacklist_enterprise
from vouchers.models import Enterprise, Hold, Programme, Quota, RecoveryFlag, Voucher

#: Orders that never reached an agreement, or were unwound before money moved, are not
#: assessed: there is nothing to audit.
NOT_ASSESSED = frozenset({OrderStatus.CANCELLED, OrderStatus.DECLINED})
MAX_SAMPLE = 1_000
MAX_NOTES = 5_000

# --------------------------------------------------------------------------- settings


def settings(session: Session) -> dict[Rule, rules.Setting]:
    """Every rule's setting: the stored one, or its default."""
    current = dict(rules.DEFAULTS)
    for row in session.scalars(sa.select(RiskSetting)):
        current[row.rule] = rules.Setting(int(row.threshold), row.weight, row.enabled)
    return current


def change_setting(
    session: Session,
    rule: Rule,
    *,
    threshold: int,
    weight: int,
    enabled: bool,
    actor_id: int | None,
) -> RiskSetting:
    """Set a rule's threshold and weight (takes effect at the next assessment).

    Raises ValidationFailed (a negative threshold, a weight outside 0–100)."""
    errors: dict[str, list[str]] = {}
    if not 0 <= threshold <= 10**12:
        errors["threshold"] = ["0 或正整数 / zero or a positive whole number"]
    if not 0 <= weight <= rules.MAX_SCORE:
        errors["weight"] = ["0–100"]
    if errors:
        raise ValidationFailed("规则设置有误 / the rule setting is not valid", errors)
    row = session.scalar(sa.select(RiskSetting).where(RiskSetting.rule == rule))
    before = settings(session)[rule]
    if row is None:
        row = RiskSetting(rule=rule)
        session.add(row)
    row.threshold, row.weight, row.enabled = threshold, weight, enabled
    row.updated_by_id, row.updated_at = actor_id, utcnow()
    session.flush()
    record(
        session,
        "risk.setting_changed",
        actor_id=actor_id,
        subject_type="risk_rule",
        subject_id=None,
        rule=rule.value,
        before={"threshold": before.threshold, "weight": before.weight, "enabled": before.enabled},
        after={"threshold": threshold, "weight": weight, "enabled": enabled},
    )
    return row


# --------------------------------------------------------------------------- assessment


@dataclass(frozen=True, slots=True)
class _Row:
    order_id: int
    enterprise_id: int
    provider_id: int
    price_fen: int
    quantity: int
    voucher_part_fen: int
    agreed_at: datetime
    delivered_at: datetime | None
    confirmed_at: datetime | None
    category: str
    catalogue_fen: int | None
    programme_id: int | None
    region_code: str
    invoice_issued_on: date | None
    cap_fen: int | None
    cap_taken_fen: int


def _rows(session: Session) -> list[_Row]:
    stmt = (
        sa.select(
            Order.id,
            Order.enterprise_id,
            Order.provider_id,
            Order.price_fen,
            Order.quantity,
            Order.voucher_part_fen,
            Order.agreement_accepted_at,
            Order.delivered_at,
            Order.confirmed_at,
            Service.category,
            Service.price_fen,
            Voucher.programme_id,
            Enterprise.region_code,
            Invoice.issued_on,
            Quota.cap_fen,
            (Quota.used_fen + Quota.held_fen),
        )
        .join(Service, Service.id == Order.service_id)
        .join(Enterprise, Enterprise.id == Order.enterprise_id)
        .outerjoin(Voucher, Voucher.id == Order.voucher_id)
        .outerjoin(Invoice, Invoice.order_id == Order.id)
        .outerjoin(Hold, Hold.id == Order.hold_id)
        .outerjoin(Quota, Quota.id == Hold.quota_id)
        .where(
            Order.agreement_accepted_at.is_not(None),
            Order.price_fen.is_not(None),
            Order.status.not_in(list(NOT_ASSESSED)),
        )
        .order_by(Order.id)
    )
    return [
        _Row(
            r[0],
            r[1],
            r[2],
            int(r[3] or 0),
            int(r[4] or 1),
            int(r[5] or 0),
            r[6] or utcnow(),  # the query selects agreed orders only
            r[7],
            r[8],
            str(r[9].value if hasattr(r[9], "value") else r[9]),
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            int(r[15] or 0),
        )
        for r in session.execute(stmt)
    ]


def _month(day: date) -> int:
    return day.year * 12 + day.month - 1


def _previous_mean_x100(counts: Counter[tuple[object, int]], key: object, month: int) -> int:
    return sum(counts[(key, m)] for m in range(month - 6, month)) * 100 // 6


def gather_facts(session: Session) -> list[rules.Facts]:
    """The facts of every agreed order (see the module docstring)."""
    rows = _rows(session)
    by_pair: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    units: dict[str, list[int]] = defaultdict(list)
    provider_months: Counter[tuple[object, int]] = Counter()
    region_months: Counter[tuple[object, int]] = Counter()
    programme_total: Counter[int] = Counter()
    provider_programme: Counter[tuple[int, int]] = Counter()
    for r in rows:
        agreed = clock.local_date(r.agreed_at)
        by_pair[(r.enterprise_id, r.provider_id, agreed.year)].append(r.order_id)
        units[r.category].append(r.price_fen // max(1, r.quantity))
        provider_months[(r.provider_id, _month(agreed))] += 1
        region_months[(r.region_code, _month(agreed))] += 1
        if r.programme_id is not None and r.voucher_part_fen > 0:
            programme_total[r.programme_id] += r.voucher_part_fen
            provider_programme[(r.provider_id, r.programme_id)] += r.voucher_part_fen
    medians = {c: int(statistics.median(v)) for c, v in units.items()}
    claims = _latest_claims(session, [r.order_id for r in rows])
    deadlines = dict(session.execute(sa.select(Programme.id, Programme.claim_deadline)).all())
    shared: dict[tuple[int, int], tuple[tuple[str, str, str], ...]] = {}
    facts = []
    for r in rows:
        agreed = clock.local_date(r.agreed_at)
        month = _month(agreed)
        pair = (r.enterprise_id, r.provider_id)
        if pair not in shared:
            shared[pair] = tuple(
                (m.kind.en, m.kind.zh, m.evidence)
                for m in shared_between(
                    session, (PartyKind.ENTERPRISE, pair[0]), (PartyKind.PROVIDER, pair[1])
                )
                if m.kind not in STRONG
            )
        claim = claims.get(r.order_id)
        facts.append(
            rules.Facts(
                order_id=r.order_id,
                enterprise_id=r.enterprise_id,
                provider_id=r.provider_id,
                price_fen=r.price_fen,
                quantity=r.quantity,
                voucher_part_fen=r.voucher_part_fen,
                catalogue_unit_fen=r.catalogue_fen,
                category_median_unit_fen=medians.get(r.category),
                category_samples=len(units[r.category]),
                pair_order_ids=tuple(by_pair[(*pair, agreed.year)]),
                cap_fen=r.cap_fen,
                cap_taken_fen=r.cap_taken_fen,
                claim_line_id=claim[0] if claim else None,
                claimed_on=claim[1] if claim else None,
                claim_deadline=deadlines.get(r.programme_id) if r.programme_id else None,
                programme_id=r.programme_id,
                provider_programme_fen=(
                    provider_programme[(r.provider_id, r.programme_id)] if r.programme_id else 0
                ),
                programme_total_fen=programme_total[r.programme_id] if r.programme_id else 0,
                agreed_on=agreed,
                delivered_on=clock.local_date(r.delivered_at) if r.delivered_at else None,
                confirmed_on=clock.local_date(r.confirmed_at) if r.confirmed_at else None,
                invoice_issued_on=r.invoice_issued_on,
                provider_month_orders=provider_months[(r.provider_id, month)],
                provider_previous_mean_x100=_previous_mean_x100(
                    provider_months, r.provider_id, month
                ),
                region_code=r.region_code,
                region_month_orders=region_months[(r.region_code, month)],
                region_previous_mean_x100=_previous_mean_x100(region_months, r.region_code, month),
                shared_weak=shared[pair],
            )
        )
    return facts


def _latest_claims(session: Session, order_ids: Sequence[int]) -> dict[int, tuple[int, date]]:
    found: dict[int, tuple[int, date]] = {}
    if not order_ids:
        return found
    for line_id, order_id, created in session.execute(
        sa.select(ClaimLine.id, ClaimLine.order_id, ClaimLine.created_at).order_by(ClaimLine.id)
    ):
        found[order_id] = (line_id, clock.local_date(created))
    return found


@dataclass(frozen=True, slots=True)
class AssessmentReport:
    orders: int
    flagged: int
    flags: int


def assess(session: Session, *, now: datetime | None = None) -> AssessmentReport:
    """Assess every agreed order and store its flags and score (flags that no longer fire
    are removed; those that still do keep when they were first raised)."""
    now = now or utcnow()
    current = settings(session)
    facts = gather_facts(session)
    existing: dict[int, dict[Rule, RiskFlag]] = defaultdict(dict)
    for flag in session.scalars(sa.select(RiskFlag)):
        existing[flag.order_id][flag.rule] = flag
    risks = {r.order_id: r for r in session.scalars(sa.select(OrderRisk))}
    flagged = total = 0
    for f in facts:
        hits = rules.evaluate(f, current)
        points = rules.score(hits, current)
        fired = {h.rule for h in hits}
        for rule, stale in existing.get(f.order_id, {}).items():
            if rule not in fired:
                session.delete(stale)
        for hit in hits:
            found = existing.get(f.order_id, {}).get(hit.rule)
            flag = found if found is not None else RiskFlag(order_id=f.order_id, rule=hit.rule)
            if found is None:
                flag.raised_at = now
                session.add(flag)
            flag.weight = current[hit.rule].weight
            flag.explanation_zh, flag.explanation_en = hit.zh, hit.en
            flag.links = {"orders": [f.order_id], **hit.links}
        risk = risks.get(f.order_id)
        if risk is None:
            risk = OrderRisk(order_id=f.order_id, provider_id=f.provider_id)
            session.add(risk)
        risk.score, risk.programme_id, risk.assessed_at = points, f.programme_id, now
        flagged += bool(hits)
        total += len(hits)
    session.flush()
    record(
        session,
        "risk.assessed",
        actor_id=None,
        subject_type="risk",
        subject_id=None,
        orders=len(facts),
        flagged=flagged,
        flags=total,
    )
    return AssessmentReport(len(facts), flagged, total)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class FlagQuery:
    rule: Rule | None = None
    programme_id: int | None = None
    provider_id: int | None = None
    min_score: int = 0
    order_id: int | None = None


def flags_query(q: FlagQuery) -> sa.Select[RiskFlag]:
    """Flags (each with its order's risk, ``flag.risk``) matching the screen's filters;
    the caller orders them."""
    stmt = (
        sa.select(RiskFlag)
        .join(OrderRisk, OrderRisk.order_id == RiskFlag.order_id)
        .where(OrderRisk.score >= q.min_score)
    )
    if q.rule is not None:
        stmt = stmt.where(RiskFlag.rule == q.rule)
    if q.programme_id is not None:
        stmt = stmt.where(OrderRisk.programme_id == q.programme_id)
    if q.provider_id is not None:
        stmt = stmt.where(OrderRisk.provider_id == q.provider_id)
    if q.order_id is not None:
        stmt = stmt.where(RiskFlag.order_id == q.order_id)
    return stmt


def order_risk(session: Session, order_id: int) -> OrderRisk | None:
    return session.scalar(sa.select(OrderRisk).where(OrderRisk.order_id == order_id))


def risks_of(session: Session, order_ids: Iterable[int]) -> dict[int, OrderRisk]:
    """The stored risk (score and flags) of each of ``order_ids`` that was assessed: one
    query for the scores and one for all their flags."""
    ids = list(order_ids)
    if not ids:
        return {}
    stmt = (
        sa.select(OrderRisk)
        .where(OrderRisk.order_id.in_(ids))
        .options(selectinload(OrderRisk.flags))
    )
    return {r.order_id: r for r in session.scalars(stmt)}


def claim_scores(session: Session, claim_ids: Iterable[int]) -> dict[int, int]:
    """Each claim's risk score: the highest of its lines' orders (a claim is as risky as its
    riskiest order)."""
    ids = list(claim_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(ClaimLine.claim_id, sa.func.max(OrderRisk.score))
        .join(OrderRisk, OrderRisk.order_id == ClaimLine.order_id)
        .where(ClaimLine.claim_id.in_(ids))
        .group_by(ClaimLine.claim_id)
    )
    return {int(c): int(s or 0) for c, s in rows}


def claim_risk(session: Session, claim_id: int) -> dict[str, Any]:
    """A claim's risk score and each of its orders' (NotFound for an unknown claim)."""
    order_ids = list(
        session.scalars(
            sa.select(ClaimLine.order_id)
            .where(ClaimLine.claim_id == claim_id)
            .order_by(ClaimLine.order_id)
        )
    )
    if not order_ids:
        raise NotFound("没有该兑付申请 / no such claim")
    scores = dict(
        session.execute(
            sa.select(OrderRisk.order_id, OrderRisk.score).where(OrderRisk.order_id.in_(order_ids))
        ).all()
    )
    return {
        "claim_id": claim_id,
        "score": claim_scores(session, [claim_id]).get(claim_id, 0),
        "orders": [{"order_id": o, "score": scores.get(o)} for o in order_ids],
    }


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True, slots=True)
class SampleRequest:
    size: int
    seed: int | None = None
    programme_id: int | None = None
    provider_id: int | None = None
    min_score: int = 0
    note: str = ""


def draw_sample(
    session: Session, request: SampleRequest, *, actor_id: int | None, now: datetime | None = None
) -> AuditSample:
    """Assess, then draw ``size`` orders from the scope, weighted by risk (1 + score), and
    record size, scope and seed so the draw can be repeated (:func:`redraw`).

    Raises ValidationFailed, EmptyPopulation."""
    errors: dict[str, list[str]] = {}
    if not 1 <= request.size <= MAX_SAMPLE:
        errors["size"] = [f"1–{MAX_SAMPLE}"]
    if not 0 <= request.min_score <= rules.MAX_SCORE:
        errors["min_score"] = ["0–100"]
    if request.seed is not None and not 0 <= request.seed < 2**62:
        errors["seed"] = ["0 ≤ seed < 2^62"]
    if len(request.note) > 2000:
        errors["note"] = ["at most 2000 characters / 不超过2000字"]
    if errors:
        raise ValidationFailed("抽样设置有误 / the sample settings are not valid", errors)
    assess(session, now=now)
    population = _population(session, request)
    if not population:
        raise EmptyPopulation("所选范围内没有可抽取的订单 / no assessed order in this scope")
    seed = request.seed if request.seed is not None else secrets.randbelow(2**62)
    sample = AuditSample(
        size=request.size,
        seed=seed,
        programme_id=request.programme_id,
        provider_id=request.provider_id,
        min_score=request.min_score,
        population=len(population),
        note=request.note.strip(),
        drawn_by_id=actor_id,
        drawn_at=now or utcnow(),
    )
    session.add(sample)
    session.flush()
    for position, (order_id, points) in enumerate(
        rules.weighted_sample(population, request.size, seed), start=1
    ):
        session.add(
            SampleItem(sample_id=sample.id, position=position, order_id=order_id, score=points)
        )
    session.flush()
    session.expire(sample, ["items"])
    record(
        session,
        "risk.sample_drawn",
        actor_id=actor_id,
        subject_type="audit_sample",
        subject_id=sample.id,
        size=request.size,
        seed=seed,
        population=len(population),
        programme_id=request.programme_id,
        provider_id=request.provider_id,
        min_score=request.min_score,
    )
    return sample


def _population(session: Session, request: SampleRequest | AuditSample) -> list[tuple[int, int]]:
    stmt = sa.select(OrderRisk.order_id, OrderRisk.score).where(
        OrderRisk.score >= request.min_score
    )
    if request.programme_id is not None:
        stmt = stmt.where(OrderRisk.programme_id == request.programme_id)
    if request.provider_id is not None:
        stmt = stmt.where(OrderRisk.provider_id == request.provider_id)
    return [(int(o), int(s)) for o, s in session.execute(stmt)]


def redraw(session: Session, sample_id: int) -> list[int]:
    """The order ids the recorded size, scope and seed draw from today's scores (equal to
    the sample's own while the scores are unchanged): the check that a draw was not chosen."""
    sample = get_sample(session, sample_id)
    return [
        o for o, _ in rules.weighted_sample(_population(session, sample), sample.size, sample.seed)
    ]


def get_sample(session: Session, sample_id: int) -> AuditSample:
    sample = session.get(AuditSample, sample_id) if 0 < sample_id < 2**62 else None
    if sample is None:
        raise NotFound("没有该抽样 / no such sample")
    return sample


def samples(session: Session) -> list[AuditSample]:
    return list(session.scalars(sa.select(AuditSample).order_by(AuditSample.id.desc())))


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True, slots=True)
class FindingInput:
    outcome: FindingOutcome
    notes: str
    follow_up: FollowUp = FollowUp.NONE
    documents: tuple[Upload, ...] = ()


def record_finding(
    session: Session,
    item_id: int,
    data: FindingInput,
    *,
    storage: OrderFileStorage,
    actor_id: int | None,
    now: datetime | None = None,
) -> Finding:
    """Record the finding on one sampled order. An irregular finding lowers the provider's
    credit score (a credit event) and may start a listing of the enterprise on the dishonesty
    list or a recovery of the order's voucher money.

    Raises NotFound, FindingAlreadyRecorded, ValidationFailed, the upload errors
    (FileTooLarge, UnsupportedFileType…). An enterprise already listed stays listed."""
    now = now or utcnow()
    item = session.get(SampleItem, item_id) if 0 < item_id < 2**62 else None
    if item is None:
        raise NotFound("没有该抽样项 / no such sampled order")
    notes = (data.notes or "").strip()
    errors: dict[str, list[str]] = {}
    if not notes or len(notes) > MAX_NOTES or "\x00" in notes:
        errors["notes"] = [f"1–{MAX_NOTES} 字 / 1–{MAX_NOTES} characters"]
    if data.outcome is FindingOutcome.CLEARED and data.follow_up is not FollowUp.NONE:
        errors["follow_up"] = [
            "未见异常的结论不能启动后续处理 / a cleared order starts no follow-up"
        ]
    if errors:
        raise ValidationFailed("审计结论有误 / the finding is not valid", errors)
    if session.scalar(sa.select(Finding.id).where(Finding.item_id == item.id)) is not None:
        raise FindingAlreadyRecorded("该订单的审计结论已记录 / this finding was already recorded")
    order = session.get(Order, item.order_id)
    assert order is not None  # the foreign key holds it
    finding = Finding(
        item_id=item.id,
        order_id=order.id,
        provider_id=order.provider_id,
        outcome=data.outcome,
        follow_up=data.follow_up,
        notes=notes,
        recorded_by_id=actor_id,
        recorded_at=now,
    )
    session.add(finding)
    session.flush()
    for upload in data.documents:
        stored = store(session, storage, upload)
        session.add(
            FindingDocument(
                finding_id=finding.id,
                stored_name=stored.stored_name,
                original_filename=stored.original_filename,
                content_type=stored.content_type,
                size_bytes=stored.size_bytes,
            )
        )
    if data.outcome is FindingOutcome.IRREGULAR:
        record_credit_event(
            session,
            order.provider_id,
            CreditEventKind.IRREGULAR_FINDING,
            f"order-{order.id}",
            occurred_on=clock.local_date(now),
            note=notes[:500],
            actor_id=actor_id,
        )
        listed = session.scalar(
            sa.select(Enterprise.blacklisted).where(Enterprise.id == order.enterprise_id)
        )
        # An enterprise already on the list (by an earlier finding, or by hand) stays listed:
        # the follow-up is in force, the finding is recorded all the same.
        if data.follow_up is FollowUp.BLACKLIST and not listed:
            blacklist_enterprise(
                session,
                order.enterprise_id,
                reason=f"审计发现违规（订单 {order.id}）：{notes}"[:2000],
                source=f"审计结论 / audit finding #{finding.id}",
                listed_on=clock.local_date(now),
                actor_id=actor_id,
            )
        elif data.follow_up is FollowUp.RECOVERY:
            finding.recovery_fen = _flag_recovery(session, order, finding, notes, actor_id, now)
    session.flush()
    record(
        session,
        "risk.finding_recorded",
        actor_id=actor_id,
        subject_type="order",
        subject_id=order.id,
        finding_id=finding.id,
        sample_id=item.sample_id,
        outcome=data.outcome.value,
        follow_up=data.follow_up.value,
        documents=len(data.documents),
    )
    return finding


def _flag_recovery(
    session: Session,
    order: Order,
    finding: Finding,
    notes: str,
    actor_id: int | None,
    now: datetime,
) -> int:
    """Flag the order's voucher money for recovery by finance (the same flag a revoked
    voucher raises); a voucher flagged before has this order's part added to its flag."""
    if order.voucher_id is None or order.voucher_part_fen <= 0:
        raise ValidationFailed(
            "该订单未使用创新券，无可追回资金 / the order used no voucher money to recover",
            {"follow_up": ["no voucher money on this order / 该订单未用券"]},
        )
    amount = order.voucher_part_fen
    flag = session.scalar(
        sa.select(RecoveryFlag).where(RecoveryFlag.voucher_id == order.voucher_id)
    )
    reason = f"审计结论 #{finding.id}（订单 {order.id}）：{notes}"[:2000]
    if flag is None:
        session.add(
            RecoveryFlag(
                voucher_id=order.voucher_id,
                amount_fen=amount,
                reason=reason,
                actor_id=actor_id,
                created_at=now,
            )
        )
    else:
        flag.amount_fen += amount
        flag.reason = f"{flag.reason}\n{reason}"[:4000]
    session.flush()
    return amount


def finding_of(session: Session, item_id: int) -> Finding | None:
    return session.scalar(sa.select(Finding).where(Finding.item_id == item_id))


def findings_query(
    *, outcome: FindingOutcome | None = None, provider_id: int | None = None
) -> sa.Select[Finding]:
    stmt = sa.select(Finding).order_by(Finding.id.desc())
    if outcome is not None:
        stmt = stmt.where(Finding.outcome == outcome)
    if provider_id is not None:
        stmt = stmt.where(Finding.provider_id == provider_id)
    return stmt
