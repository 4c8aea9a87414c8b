"""Ratings, assessments and the provider credit score (信用评分).

The combined evaluation of POLICY.md rule 9 — the government buyer, the enterprises served
and third parties — feeds one score from 0 to 100, shown on every provider page.

The formula (integer arithmetic only; "round" is half up):

1. **Enterprises (E)**, from every rating of the provider's services, smoothed towards 4 stars
   as if the provider started with five 4-star ratings, so one early rating cannot make or
   break it::

       mean_x100 = (sum_of_stars + 5 × 4) × 100 ÷ (number_of_ratings + 5)   (100 … 500)
       E = (mean_x100 − 100) ÷ 4                                            (0 … 100)

   With no ratings E = 75.
2. **Administrators (G)**: the mean of the administrators' assessment scores (0–100).
3. **Third parties (T)**: the mean of the third-party evaluators' scores (0–100).

   Each evaluator has one assessment per period (per assessor kind): a new one replaces it,
   so an evaluator repeating itself weighs no more (:func:`record_assessment`).
4. **Combined** = round((50·E + 25·G + 25·T) ÷ (sum of the weights present)); a component
   with no assessment yet drops out with its weight, so the score is never dragged down by
   an evaluation that has not happened.
5. **Penalties**: 10 points per upheld dispute, 3 per late delivery and 15 per irregular
   audit finding, counted from the events the orders work and the auditors record
   (:func:`record_credit_event`), all time.
6. **Score** = max(0, min(100, combined − penalties)). Bands: A ≥ 90, B ≥ 75, C ≥ 60, D below.

The score is cached on ``providers.credit_score`` and recomputed (under the provider's row
lock) whenever a rating, an assessment or a credit event is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import ValidationFailed
from providers.enums import AssessorKind, CreditEventKind
from providers.errors import DuplicateRating
from providers.models import Assessment, CreditEvent, Provider, Rating, Service
from providers.rules import normalise_period
from providers.services import get_provider
from vouchers.models import Enterprise

PRIOR_RATINGS = 5
PRIOR_STARS = 4
WEIGHT_ENTERPRISES = 50
WEIGHT_ADMINISTRATORS = 25
WEIGHT_THIRD_PARTIES = 25
DISPUTE_PENALTY = 10
LATE_DELIVERY_PENALTY = 3
#: An auditor found an order irregular (marketplace.risk): heavier than an upheld dispute,
#: which a buyer raised; this one an auditor established.
IRREGULAR_FINDING_PENALTY = 15
BANDS: tuple[tuple[int, str, str, str], ...] = (
    (90, "A", "优秀", "excellent"),
    (75, "B", "良好", "good"),
    (60, "C", "合格", "fair"),
    (0, "D", "较差", "poor"),
)


def _round_div(numerator: int, denominator: int) -> int:
    """Half-up rounding of a non-negative fraction, in integers."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class CreditInputs:
    rating_count: int
    rating_total: int
    administrator_scores: tuple[int, ...]
    third_party_scores: tuple[int, ...]
    upheld_disputes: int
    late_deliveries: int
    irregular_findings: int = 0


@dataclass(frozen=True)
class CreditBreakdown:
    score: int
    enterprises: int
    administrators: int | None
    third_parties: int | None
    combined: int
    penalty: int
    inputs: CreditInputs

    @property
    def band(self) -> str:
        return band_for(self.score)[0]

    @property
    def band_zh(self) -> str:
        return band_for(self.score)[1]

    @property
    def band_en(self) -> str:
        return band_for(self.score)[2]


def band_for(score: int) -> tuple[str, str, str]:
    for floor, letter, zh, en in BANDS:
        if score >= floor:
            return letter, zh, en
    return BANDS[-1][1:]  # pragma: no cover - the last floor is 0


def compute_credit_score(inputs: CreditInputs) -> CreditBreakdown:
    """The credit score of the module docstring, from its inputs (pure)."""
    mean_x100 = (
        (inputs.rating_total + PRIOR_RATINGS * PRIOR_STARS)
        * 100
        // (inputs.rating_count + PRIOR_RATINGS)
    )
    enterprises = (mean_x100 - 100) // 4
    weighted = WEIGHT_ENTERPRISES * enterprises
    weights = WEIGHT_ENTERPRISES
    administrators = third_parties = None
    if inputs.administrator_scores:
        administrators = _round_div(
            sum(inputs.administrator_scores), len(inputs.administrator_scores)
        )
        weighted += WEIGHT_ADMINISTRATORS * administrators
        weights += WEIGHT_ADMINISTRATORS
    if inputs.third_party_scores:
        third_parties = _round_div(sum(inputs.third_party_scores), len(inputs.third_party_scores))
        weighted += WEIGHT_THIRD_PARTIES * third_parties
        weights += WEIGHT_THIRD_PARTIES
    combined = _round_div(weighted, weights)
    penalty = (
        DISPUTE_PENALTY * inputs.upheld_disputes
        + LATE_DELIVERY_PENALTY * inputs.late_deliveries
        + IRREGULAR_FINDING_PENALTY * inputs.irregular_findings
    )
    return CreditBreakdown(
        score=max(0, min(100, combined - penalty)),
        enterprises=enterprises,
        administrators=administrators,
        third_parties=third_parties,
        combined=combined,
        penalty=penalty,
        inputs=inputs,
    )


def credit_inputs(session: Session, provider_id: int) -> CreditInputs:
    count, total = session.execute(
        sa.select(sa.func.count(Rating.id), sa.func.coalesce(sa.func.sum(Rating.stars), 0)).where(
            Rating.provider_id == provider_id
        )
    ).one()
    scores: dict[AssessorKind, list[int]] = {kind: [] for kind in AssessorKind}
    for kind, score in session.execute(
        sa.select(Assessment.assessor_kind, Assessment.score).where(
            Assessment.provider_id == provider_id
        )
    ):
        scores[kind].append(int(score))
    events = dict(
        session.execute(
            sa.select(CreditEvent.kind, sa.func.count(CreditEvent.id))
            .where(CreditEvent.provider_id == provider_id)
            .group_by(CreditEvent.kind)
        ).all()
    )
    return CreditInputs(
        rating_count=int(count),
        rating_total=int(total),
        administrator_scores=tuple(scores[AssessorKind.ADMINISTRATOR]),
        third_party_scores=tuple(scores[AssessorKind.THIRD_PARTY]),
        upheld_disputes=int(events.get(CreditEventKind.UPHELD_DISPUTE, 0)),
        late_deliveries=int(events.get(CreditEventKind.LATE_DELIVERY, 0)),
        irregular_findings=int(events.get(CreditEventKind.IRREGULAR_FINDING, 0)),
    )


def credit_breakdown(session: Session, provider_id: int) -> CreditBreakdown:
    return compute_credit_score(credit_inputs(session, provider_id))


def refresh_credit_score(session: Session, provider_id: int) -> CreditBreakdown:
    """Recompute and store the provider's score. The row lock serialises concurrent
    refreshes, so the last one to commit has seen every input."""
    provider = get_provider(session, provider_id, lock=True)
    breakdown = credit_breakdown(session, provider_id)
    provider.credit_score = breakdown.score
    session.flush()
    return breakdown


# --------------------------------------------------------------------------- ratings

MAX_COMMENT = 2000


def rate_service(
    session: Session,
    enterprise: Enterprise,
    service: Service,
    order_ref: str,
    stars: int,
    comment: str | None,
) -> Rating:
    """Record an enterprise's rating of a service for one completed order.

    The orders work calls this after checking that the order is complete and belongs to the
    enterprise. Raises ValidationFailed (stars not 1–5, comment too long, no order reference),
    DuplicateRating (this enterprise already rated this order).
    """
    ref = (order_ref or "").strip()
    text = (comment or "").strip() or None
    errors: dict[str, list[str]] = {}
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        errors["stars"] = ["1–5 星 / 1 to 5 stars"]
    if not 1 <= len(ref) <= 64:
        errors["order_ref"] = ["订单号 1–64 字 / an order reference of 1–64 characters"]
    if text is not None and len(text) > MAX_COMMENT:
        errors["comment"] = [f"不超过{MAX_COMMENT}字 / at most {MAX_COMMENT} characters"]
    if errors:
        raise ValidationFailed("评价有误 / the rating has invalid fields", errors)
    # Ratings of one provider are serialised on its row; the score refresh below needs it.
    get_provider(session, service.provider_id, lock=True)
    duplicate = DuplicateRating(
        "该订单已评价 / this order was already rated", extra={"order_ref": ref}
    )
    exists = session.scalar(
        sa.select(Rating.id).where(Rating.enterprise_id == enterprise.id, Rating.order_ref == ref)
    )
    if exists is not None:
        raise duplicate
    rating = Rating(
        service_id=service.id,
        provider_id=service.provider_id,
        enterprise_id=enterprise.id,
        order_ref=ref,
        stars=stars,
        comment=text,
    )
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError:
        # A concurrent request rated the same order first; the unique key decided.
        raise duplicate from None
    # One atomic UPDATE keeps the counters right under concurrent ratings.
    session.execute(
        sa.update(Service)
        .where(Service.id == service.id)
        .values(
            rating_count=Service.rating_count + 1,
            rating_total=Service.rating_total + stars,
            rating_avg_x100=(Service.rating_total + stars) * 100 // (Service.rating_count + 1),
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(service, ["rating_count", "rating_total", "rating_avg_x100"])
    record(
        session,
        "service.rated",
        actor_id=None,
        subject_type="service",
        subject_id=service.id,
        enterprise_id=enterprise.id,
        order_ref=ref,
        stars=stars,
    )
    refresh_credit_score(session, service.provider_id)
    return rating


def ratings_of_provider(
    session: Session, provider_id: int, *, limit: int = 20, service_id: int | None = None
) -> list[Rating]:
    """The provider's latest ratings (of one of its services when ``service_id`` is given)."""
    query = sa.select(Rating).where(Rating.provider_id == provider_id)
    if service_id is not None:
        query = query.where(Rating.service_id == service_id)
    return list(session.scalars(query.order_by(Rating.id.desc()).limit(limit)))


# --------------------------------------------------------------------------- assessments


def evaluator_key(name: str) -> str:
    """An evaluator's name as stored and compared: trimmed, each run of white space inside
    collapsed to one space (so "昆明市 科技局" and "昆明市  科技局" are one evaluator)."""
    return " ".join((name or "").split())


def record_assessment(
    session: Session,
    provider: Provider,
    *,
    assessor_kind: AssessorKind,
    evaluator_name: str,
    score: int,
    period: str,
    comment: str,
    report_ref: str | None,
    actor_id: int | None,
) -> Assessment:
    """An administrator's own assessment, or a third-party evaluator's entered by an
    administrator (evaluators have no accounts; ``evaluator_name`` and ``report_ref`` say
    whose report it is).

    One assessment counts per provider, assessor kind, evaluator and period (a UNIQUE key):
    recording another for the same key replaces it in place, so repeating an assessment
    cannot weigh more in the credit score. The replaced values stay in the audit trail
    (``provider.assessment_replaced``). Raises ValidationFailed.
    """
    name, text, when = evaluator_key(evaluator_name), comment.strip(), normalise_period(period)
    ref = (report_ref or "").strip() or None
    errors: dict[str, list[str]] = {}
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        errors["score"] = ["0–100 分 / 0 to 100"]
    if not 2 <= len(name) <= 200:
        errors["evaluator_name"] = ["评价单位 2–200 字 / the evaluator, 2–200 characters"]
    if when is None:
        errors["period"] = [
            "评价期间：年度、半年或季度，如 2026、2026-H1、2026-Q3 / the period: a year, a half "
            "or a quarter, e.g. 2026, 2026-H1, 2026-Q3"
        ]
    if not 5 <= len(text) <= 5000:
        errors["comment"] = ["评价意见 5–5000 字 / the findings, 5–5000 characters"]
    if assessor_kind is AssessorKind.THIRD_PARTY and ref is None:
        errors["report_ref"] = [
            "第三方评价须填写报告编号 / a third-party assessment needs its report number"
        ]
    if ref is not None and len(ref) > 100:
        errors["report_ref"] = ["不超过100字 / at most 100 characters"]
    if errors or when is None:
        raise ValidationFailed("评价有误 / the assessment has invalid fields", errors)
    # The provider's lock serialises assessments of one provider: the look-up below and the
    # insert or update cannot race (the UNIQUE key backs it up).
    get_provider(session, provider.id, lock=True)
    assessment = session.scalar(
        sa.select(Assessment).where(
            Assessment.provider_id == provider.id,
            Assessment.assessor_kind == assessor_kind,
            Assessment.evaluator_name == name,
            Assessment.period == when,
        )
    )
    if assessment is not None:
        record(
            session,
            "provider.assessment_replaced",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            assessment_id=assessment.id,
            assessor_kind=assessor_kind.value,
            evaluator_name=name,
            period=when,
            previous={
                "score": assessment.score,
                "comment": assessment.comment,
                "report_ref": assessment.report_ref,
                "recorded_by_id": assessment.recorded_by_id,
                "recorded_at": assessment.created_at.isoformat(),
            },
            score=score,
        )
    else:
        assessment = Assessment(
            provider_id=provider.id,
            assessor_kind=assessor_kind,
            evaluator_name=name,
            period=when,
        )
        session.add(assessment)
    assessment.score = score
    assessment.comment = text
    assessment.report_ref = ref
    assessment.recorded_by_id = actor_id
    assessment.created_at = utcnow()
    session.flush()
    record(
        session,
        "provider.assessed",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        assessment_id=assessment.id,
        assessor_kind=assessor_kind.value,
        evaluator_name=name,
        period=when,
        score=score,
    )
    refresh_credit_score(session, provider.id)
    return assessment


def assessments_of(session: Session, provider_id: int) -> list[Assessment]:
    return list(
        session.scalars(
            sa.select(Assessment)
            .where(Assessment.provider_id == provider_id)
            .order_by(Assessment.id.desc())
        )
    )


# --------------------------------------------------------------------------- credit events


def record_credit_event(
    session: Session,
    provider_id: int,
    kind: CreditEventKind,
    order_ref: str,
    *,
    occurred_on: date,
    note: str | None = None,
    actor_id: int | None = None,
) -> CreditEvent:
    """Record an upheld dispute or a late delivery against the provider (the orders work
    calls this). Idempotent per (provider, kind, order): a repeat returns the first record
    and counts nothing twice. Raises NotFound, ValidationFailed."""
    ref = (order_ref or "").strip()
    if not 1 <= len(ref) <= 64:
        raise ValidationFailed(
            "订单号无效 / invalid order reference", {"order_ref": ["1–64 characters"]}
        )
    get_provider(session, provider_id)
    existing = session.scalar(
        sa.select(CreditEvent).where(
            CreditEvent.provider_id == provider_id,
            CreditEvent.kind == kind,
            CreditEvent.order_ref == ref,
        )
    )
    if existing is not None:
        return existing
    event = CreditEvent(
        provider_id=provider_id,
        kind=kind,
        order_ref=ref,
        occurred_on=occurred_on,
        note=(note or "").strip() or None,
        recorded_by_id=actor_id,
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        # The same event recorded concurrently: the first one stands.
        return session.scalars(
            sa.select(CreditEvent).where(
                CreditEvent.provider_id == provider_id,
                CreditEvent.kind == kind,
                CreditEvent.order_ref == ref,
            )
        ).one()
    record(
        session,
        "provider.credit_event",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider_id,
        kind=kind.value,
        order_ref=ref,
    )
    refresh_credit_score(session, provider_id)
    return event


def credit_events_of(session: Session, provider_id: int) -> list[CreditEvent]:
    return list(
        session.scalars(
            sa.select(CreditEvent)
            .where(CreditEvent.provider_id == provider_id)
            .order_by(CreditEvent.id.desc())
        )
    )
