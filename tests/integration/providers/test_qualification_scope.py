"""What an accreditation covers (its scope) is filed with the number, reviewed with it after
admission (maker-checker), and searchable with the provider's services once in force."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.enums import Role
from marketplace.errors import ValidationFailed
from providers import evidence, services
from providers.enums import QualificationKind, ReviewStatus
from providers.models import QualificationChange
from providers.search import SearchCriteria, search_page
from tests.support.provider_fixtures import TODAY


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _found(session, q):
    items, _ = search_page(session, SearchCriteria(q=q, today=TODAY), per_page=50)
    return {s.id for s in items}


def test_a_scope_is_reviewed_then_searchable(
    ctx, session, provider_stages, create_user, create_service, reviewer
):
    provider = provider_stages.admitted(expires_on=TODAY + timedelta(days=300))
    user = create_user(Role.PROVIDER, provider=provider)
    service = create_service(provider, title="金属材料检验", description="常规项目。")
    live = next(q for q in provider.qualifications if q.kind is QualificationKind.CMA)
    assert _found(session, "断口分析") == set()

    change = services.set_qualification(
        session,
        provider,
        QualificationKind.CMA,
        live.number,
        valid_until=live.valid_until,
        scope="  金属材料 力学性能、\n断口分析  ",
        actor_id=user.id,
        today=TODAY,
    )
    # Only the scope changed: still a request for a reviewer, the old scope stays in force.
    assert isinstance(change, QualificationChange) and change.status is ReviewStatus.PENDING
    assert change.scope == "金属材料 力学性能、 断口分析"
    assert _found(session, "断口分析") == set()

    evidence.approve_qualification_change(session, change.id, actor_id=reviewer.id)
    session.expire_all()
    assert _found(session, "断口分析") == {service.id}
    assert _found(session, "CMA 断口分析") == {service.id}


def test_a_draft_files_its_scope_directly_and_too_long_is_refused(
    ctx, session, provider_stages, create_user
):
    provider = provider_stages.draft()
    user = create_user(Role.PROVIDER, provider=provider)
    qualification = services.set_qualification(
        session,
        provider,
        QualificationKind.CNAS,
        "CNAS L1234",
        valid_until=None,
        scope="水质 地表水",
        actor_id=user.id,
        today=TODAY,
    )
    assert qualification.scope == "水质 地表水"
    with pytest.raises(ValidationFailed) as refused:
        services.set_qualification(
            session,
            provider,
            QualificationKind.CNAS,
            "CNAS L1234",
            valid_until=None,
            scope="x" * 2001,
            actor_id=user.id,
            today=TODAY,
        )
    assert "scope" in refused.value.errors
