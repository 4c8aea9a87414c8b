"""Ratings, assessments (the combined evaluation) and the credit score on both databases."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from marketplace.audit.models import AuditEvent
from marketplace.errors import ValidationFailed
from providers import credit
from providers.enums import AssessorKind, CreditEventKind
from providers.errors import DuplicateRating
from providers.models import Assessment, CreditEvent, Rating
from tests.conftest import rows


def test_rating_a_service_updates_its_average_and_the_provider_score(
    session, create_service, create_enterprise
):
    service = create_service()
    provider = service.provider
    assert provider.credit_score == 75
    first, second = create_enterprise(), create_enterprise()
    credit.rate_service(session, first, service, "ORD-1", 5, "报告及时、专业。")
    credit.rate_service(session, second, service, "ORD-1", 4, None)  # refs are per rater
    session.refresh(service)
    assert (service.rating_count, service.rating_total, service.rating_avg_x100) == (2, 9, 450)
    # E = ((9 + 20) * 100 // 7 - 100) // 4 = (414 - 100) // 4 = 78
    assert provider.credit_score == 78
    assert credit.credit_breakdown(session, provider.id).enterprises == 78


def test_one_rating_per_order_and_valid_stars_only(session, create_service, create_enterprise):
    service = create_service()
    enterprise = create_enterprise()
    credit.rate_service(session, enterprise, service, "ORD-9", 3, None)
    with pytest.raises(DuplicateRating) as caught:
        credit.rate_service(session, enterprise, service, "ORD-9", 5, "改评")
    assert caught.value.code == "duplicate_rating"
    for stars in (0, 6, True):
        with pytest.raises(ValidationFailed):
            credit.rate_service(session, enterprise, service, f"ORD-{stars}", stars, None)
    with pytest.raises(ValidationFailed):
        credit.rate_service(session, enterprise, service, "", 4, None)
    assert session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1
    session.refresh(service)
    assert service.rating_count == 1


def test_assessments_by_administrators_and_third_parties_combine(
    session, create_provider, reviewer
):
    provider = create_provider()
    credit.record_assessment(
        session,
        provider,
        assessor_kind=AssessorKind.ADMINISTRATOR,
        evaluator_name="昆明市科技局",
        score=90,
        period="2026",
        comment="服务规范，年度考核优秀。",
        report_ref=None,
        actor_id=reviewer.id,
    )
    # (50 * 75 + 25 * 90) / 75 = 80
    assert provider.credit_score == 80
    with pytest.raises(ValidationFailed) as caught:
        credit.record_assessment(
            session,
            provider,
            assessor_kind=AssessorKind.THIRD_PARTY,
            evaluator_name="云南科技评估中心",
            score=60,
            period="2026",
            comment="第三方评估结果。",
            report_ref=None,
            actor_id=reviewer.id,
        )
    assert "report_ref" in caught.value.errors
    credit.record_assessment(
        session,
        provider,
        assessor_kind=AssessorKind.THIRD_PARTY,
        evaluator_name="云南科技评估中心",
        score=60,
        period="2026",
        comment="第三方评估结果。",
        report_ref="YNKP-2026-018",
        actor_id=reviewer.id,
    )
    # (50 * 75 + 25 * 90 + 25 * 60) / 100 = 75
    assert provider.credit_score == 75
    assert [a.assessor_kind for a in credit.assessments_of(session, provider.id)] == [
        AssessorKind.THIRD_PARTY,
        AssessorKind.ADMINISTRATOR,
    ]
    with pytest.raises(ValidationFailed):
        credit.record_assessment(
            session,
            provider,
            assessor_kind=AssessorKind.ADMINISTRATOR,
            evaluator_name="科技局",
            score=101,
            period="2026",
            comment="超出范围。",
            report_ref=None,
            actor_id=reviewer.id,
        )


def test_upheld_disputes_and_late_deliveries_cost_points_once_each(session, create_provider):
    provider = create_provider()
    day = date(2026, 6, 1)
    credit.record_credit_event(
        session, provider.id, CreditEventKind.UPHELD_DISPUTE, "ORD-7", occurred_on=day
    )
    credit.record_credit_event(
        session, provider.id, CreditEventKind.LATE_DELIVERY, "ORD-8", occurred_on=day
    )
    again = credit.record_credit_event(
        session, provider.id, CreditEventKind.UPHELD_DISPUTE, "ORD-7", occurred_on=day
    )
    assert again.order_ref == "ORD-7"
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditEvent)) == 2
    assert provider.credit_score == 75 - 10 - 3
    breakdown = credit.credit_breakdown(session, provider.id)
    assert (breakdown.inputs.upheld_disputes, breakdown.inputs.late_deliveries) == (1, 1)
    assert breakdown.band == "C"


def test_the_score_never_goes_below_zero(session, create_provider):
    provider = create_provider()
    for n in range(9):
        credit.record_credit_event(
            session,
            provider.id,
            CreditEventKind.UPHELD_DISPUTE,
            f"ORD-{n}",
            occurred_on=date(2026, 6, 1),
        )
    assert provider.credit_score == 0


def _assess(session, provider, actor, **overrides):
    values = {
        "assessor_kind": AssessorKind.ADMINISTRATOR,
        "evaluator_name": "昆明市科技局",
        "score": 100,
        "period": "2026",
        "comment": "服务规范，年度考核优秀。",
        "report_ref": None,
        "actor_id": actor.id,
    }
    values.update(overrides)
    return credit.record_assessment(session, provider, **values)


def test_repeating_an_assessment_replaces_it_and_keeps_the_old_one_in_the_audit_trail(
    session, create_provider, reviewer
):
    provider = create_provider()
    first = _assess(session, provider, reviewer, score=100)
    assert provider.credit_score == 83  # (50 * 75 + 25 * 100) / 75 = 83.3
    # The same evaluator and period again, however it is spelled: it replaces, never adds.
    for name, period in (
        ("昆明市科技局", "2026"),
        (" 昆明市科技局 ", " 2026 "),
    ):
        again = _assess(session, provider, reviewer, evaluator_name=name, period=period)
        assert again.id == first.id
    assert provider.credit_score == 83
    assert credit.credit_breakdown(session, provider.id).inputs.administrator_scores == (100,)
    lowered = _assess(session, provider, reviewer, score=40, comment="年度抽查发现问题。")
    assert lowered.id == first.id and lowered.score == 40
    assert provider.credit_score == 63  # (50 * 75 + 25 * 40) / 75 = 63.3
    assert len(credit.assessments_of(session, provider.id)) == 1
    replaced = rows(session, AuditEvent, AuditEvent.action == "provider.assessment_replaced")
    assert len(replaced) == 3
    assert replaced[-1].detail["previous"]["score"] == 100
    assert replaced[-1].detail["previous"]["comment"] == "服务规范，年度考核优秀。"
    assert replaced[-1].detail["score"] == 40

    # Another period, evaluator or assessor kind is another assessment.
    _assess(session, provider, reviewer, period="2026-h1", score=80)
    _assess(session, provider, reviewer, evaluator_name="云南省科技厅", score=80)
    _assess(
        session,
        provider,
        reviewer,
        assessor_kind=AssessorKind.THIRD_PARTY,
        report_ref="YNKP-2026-1",
        score=80,
    )
    periods = {a.period for a in credit.assessments_of(session, provider.id)}
    assert periods == {"2026", "2026-H1"}
    assert len(credit.assessments_of(session, provider.id)) == 4
    # Names differing only in spacing are one evaluator.
    spaced = _assess(session, provider, reviewer, evaluator_name="云南省  科技厅", score=70)
    assert spaced.evaluator_name == "云南省 科技厅"
    assert _assess(session, provider, reviewer, evaluator_name="云南省 科技厅").id == spaced.id


@pytest.mark.parametrize("period", ["2026年", "26", "2026-H3", "2026 H1", "２０２６", "2026-Q5"])
def test_the_period_is_a_year_a_half_or_a_quarter(session, create_provider, reviewer, period):
    provider = create_provider()
    with pytest.raises(ValidationFailed) as caught:
        _assess(session, provider, reviewer, period=period)
    assert "period" in caught.value.errors


def test_the_database_allows_one_assessment_per_evaluator_and_period(session, create_provider):
    provider = create_provider()
    for score in (10, 90):
        session.add(
            Assessment(
                provider_id=provider.id,
                assessor_kind=AssessorKind.ADMINISTRATOR,
                evaluator_name="昆明市科技局",
                score=score,
                period="2026",
                comment="重复评价。",
            )
        )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()
