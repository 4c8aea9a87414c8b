"""The demo catalogue: realistic services for the five demo providers, found in Chinese,
created once however often the seed runs."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from marketplace import demo
from marketplace.enums import ServiceCategory
from providers.enums import ParticipationStatus, ProviderStatus
from providers.models import (
    InstrumentListing,
    ProgrammeParticipation,
    Provider,
    ProviderQualification,
    Service,
)
from providers.search import SearchCriteria, search_services

TODAY = date(2026, 6, 1)


def _seed(session) -> demo.SeedResult:
    result = demo.SeedResult()
    demo.seed_programmes(session, result, TODAY.year)
    providers = demo.seed_providers(session, result)
    enterprises = demo.seed_enterprises(session, result)
    session.flush()
    demo.seed_accounts(session, result, enterprises, providers)
    session.flush()
    demo.seed_catalogue(session, result, providers, TODAY)
    session.flush()
    return result


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_demo_catalogue_is_complete_searchable_and_idempotent(session):
    first = _seed(session)
    assert first.created["services"] == sum(len(entry[4]) for entry in demo.DEMO_CATALOGUE)
    counts = {
        model: _count(session, model)
        for model in (Service, InstrumentListing, ProviderQualification, ProgrammeParticipation)
    }
    again = _seed(session)
    assert "services" not in again.created and "ratings" not in again.created
    assert {model: _count(session, model) for model in counts} == counts

    def titles(q: str) -> set[str]:
        return {s.title for s in search_services(session, SearchCriteria(q=q), limit=50).items}

    assert {"材料检测服务", "食品安全检验"} <= titles("检测")
    assert {"专利代理", "专利检索分析"} <= titles("专利")
    assert titles("SEM 扫描电镜") == {"扫描电镜 SEM 机时共享"}
    assert "高新技术企业认定咨询" in titles("高新技术企业认定")

    sem = session.scalar(sa.select(Service).where(Service.title == "扫描电镜 SEM 机时共享"))
    assert (sem.instrument.model, sem.price_fen) == ("JSM-7610F", 60_000)
    assert "呈贡" in sem.instrument.location
    covered = set(session.scalars(sa.select(Service.category).distinct()))
    assert covered == set(ServiceCategory)  # every category of the policy is on offer

    in_notice = session.scalar(
        sa.select(Provider).where(Provider.credit_code == demo.DEMO_NOTICE_PROVIDER.credit_code)
    )
    assert in_notice.status is ProviderStatus.IN_NOTICE
    assert in_notice.notice_starts_on <= TODAY <= in_notice.notice_ends_on
    admitted = session.scalars(
        sa.select(ProgrammeParticipation.status).where(
            ProgrammeParticipation.provider_id != in_notice.id
        )
    ).all()
    assert admitted and set(admitted) == {ParticipationStatus.ADMITTED}
