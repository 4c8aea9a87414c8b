"""Related-party declarations and the order gate (ensure_orderable)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from marketplace.audit.models import AuditEvent
from marketplace.enums import Role, ServiceCategory
from marketplace.errors import NotFound, PermissionDenied, ReasonRequired, ValidationFailed
from marketplace.notifications.models import OutboundEmail
from providers import related
from providers.enums import ParticipationStatus, ProviderStatus, RelationKind, ReviewStatus
from providers.errors import (
    CategoryNotAdmitted,
    CategoryNotEligible,
    DuplicateDeclaration,
    InvalidCreditCode,
    NotInProgramme,
    ProviderNotAdmitted,
    ProviderRevoked,
    ProviderSuspended,
    ReviewNotPending,
    ServiceInactive,
)
from providers.models import ProgrammeParticipation, RelatedParty, RelatedPartyWithdrawal
from tests.conftest import rows
from tests.support.fixtures import unique_credit_code


def _declare(session, provider, code, **overrides):
    values = {
        "credit_code": code,
        "name": "关联企业有限公司",
        "relation": RelationKind.SUBSIDIARY,
        "note": None,
        "actor_id": None,
    }
    values.update(overrides)
    return related.declare_related_party(session, provider, **values)


def test_orders_between_declared_related_parties_are_refused(
    app, session, create_service, create_enterprise, reviewer
):
    service = create_service()
    enterprise = create_enterprise()
    related.ensure_orderable(session, service, enterprise)
    declaration = _declare(session, service.provider, enterprise.credit_code.lower() + " ")
    assert declaration.credit_code == enterprise.credit_code
    with pytest.raises(related.RelatedPartyConflict) as caught:
        related.ensure_orderable(session, service, enterprise)
    assert caught.value.code == "related_party"

    with pytest.raises(ReasonRequired):
        related.withdraw_related_party(
            session, service.provider, declaration.id, reason="", actor_id=None
        )
    related.withdraw_related_party(
        session, service.provider, declaration.id, reason="股权已转让。", actor_id=None
    )
    # An admitted provider only asks: the declaration holds until a reviewer accepts.
    with pytest.raises(related.RelatedPartyConflict):
        related.ensure_orderable(session, service, enterprise)
    assert declaration.pending_withdrawal is not None
    with app.app_context():
        related.approve_withdrawal(session, declaration.pending_withdrawal.id, actor_id=reviewer.id)
    related.ensure_orderable(session, service, enterprise)
    assert related.related_parties_of(session, service.provider.id, active_only=True) == []
    # Declaring it again re-activates the same record.
    again = _declare(session, service.provider, enterprise.credit_code)
    assert again.id == declaration.id and again.withdrawn_at is None


def test_sharing_a_credit_code_is_refused_without_a_declaration(
    session, create_provider, create_service, create_enterprise
):
    code = unique_credit_code()
    provider = create_provider(credit_code=code)
    enterprise = create_enterprise(credit_code=code)
    service = create_service(provider)
    with pytest.raises(related.RelatedPartyConflict):
        related.ensure_orderable(session, service, enterprise)


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91530102MA6N0001", "length"),
        ("91530102MA6N00O1XX", "charset"),
        ("91530102MA6N00017A", "check"),
        ("91530102MA6N00011B", "organisation_check"),
    ],
)
def test_invalid_credit_codes_are_refused_with_the_rule(session, create_provider, code, rule):
    provider = create_provider()
    with pytest.raises(InvalidCreditCode) as caught:
        _declare(session, provider, code)
    assert caught.value.code == "invalid_credit_code"
    assert caught.value.extra["rule"] == rule
    assert session.scalar(sa.select(sa.func.count()).select_from(RelatedParty)) == 0


def test_duplicate_and_own_declarations_are_refused(session, create_provider):
    provider = create_provider()
    code = unique_credit_code()
    _declare(session, provider, code)
    with pytest.raises(DuplicateDeclaration):
        _declare(session, provider, code)
    with pytest.raises(ValidationFailed) as caught:
        _declare(session, provider, provider.credit_code)
    assert "credit_code" in caught.value.errors


def test_declarations_belong_to_their_provider(session, create_provider):
    owner, other = create_provider(), create_provider()
    declaration = _declare(session, owner, unique_credit_code())
    with pytest.raises(NotFound):
        related.withdraw_related_party(session, other, declaration.id, reason="x", actor_id=None)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (ProviderStatus.SUSPENDED, ProviderSuspended),
        (ProviderStatus.REVOKED, ProviderRevoked),
        (ProviderStatus.PENDING, ProviderNotAdmitted),
        (ProviderStatus.IN_NOTICE, ProviderNotAdmitted),
        (ProviderStatus.REJECTED, ProviderNotAdmitted),
    ],
)
def test_services_of_providers_not_admitted_cannot_be_ordered(
    session, create_provider, create_service, create_enterprise, status, error
):
    service = create_service(create_provider(status=status))
    with pytest.raises(error) as caught:
        related.ensure_orderable(session, service, create_enterprise())
    assert caught.value.code in {"provider_suspended", "provider_revoked", "provider_not_admitted"}


def test_inactive_services_cannot_be_ordered(session, create_service, create_enterprise):
    service = create_service(is_active=False)
    with pytest.raises(ServiceInactive):
        related.ensure_orderable(session, service, create_enterprise())


def test_services_outside_the_admitted_categories_cannot_be_ordered(
    session, create_service, create_enterprise
):
    service = create_service(category=ServiceCategory.AUDIT)
    enterprise = create_enterprise()
    related.ensure_orderable(session, service, enterprise)
    # A service prepared before admission in a category the provider then dropped.
    service.provider.service_categories = ["testing"]
    session.flush()
    with pytest.raises(CategoryNotAdmitted) as caught:
        related.ensure_orderable(session, service, enterprise)
    assert caught.value.extra == {"service_id": service.id, "category": "audit"}


def test_programme_rules(session, create_service, create_enterprise, create_programme):
    service = create_service(category=ServiceCategory.TESTING)
    programme = create_programme(eligible_categories=["ip"])
    enterprise = create_enterprise()
    with pytest.raises(NotInProgramme):
        related.ensure_orderable(session, service, enterprise, programme)
    session.add(
        ProgrammeParticipation(
            provider_id=service.provider_id,
            programme_id=programme.id,
            status=ParticipationStatus.ADMITTED,
        )
    )
    session.flush()
    with pytest.raises(CategoryNotEligible):
        related.ensure_orderable(session, service, enterprise, programme)
    programme.eligible_categories = ["ip", "testing"]
    session.flush()
    related.ensure_orderable(session, service, enterprise, programme)


# --------------------------------------------------------------------------- withdrawals


@pytest.fixture
def ctx(app):
    """Decisions e-mail the provider; the outbox reads the app's settings."""
    with app.app_context():
        yield


def test_a_withdrawal_is_a_request_and_the_declaration_holds_until_accepted(
    ctx, session, create_service, create_enterprise, create_user, reviewer
):
    service = create_service()
    provider, enterprise = service.provider, create_enterprise()
    user = create_user(Role.PROVIDER, provider=provider)
    declaration = _declare(session, provider, enterprise.credit_code, actor_id=user.id)
    related.withdraw_related_party(
        session, provider, declaration.id, reason="股权已于上月转让。", actor_id=user.id
    )
    assert declaration.is_active
    request = declaration.pending_withdrawal
    assert request is not None and request.status is ReviewStatus.PENDING
    assert related.related_at(session, provider.id, enterprise.id)
    with pytest.raises(related.RelatedPartyConflict):
        related.ensure_orderable(session, service, enterprise)

    # The same request again changes nothing; a different reason replaces it.
    related.withdraw_related_party(
        session, provider, declaration.id, reason="股权已于上月转让。", actor_id=user.id
    )
    assert declaration.pending_withdrawal.id == request.id
    related.withdraw_related_party(
        session, provider, declaration.id, reason="股权转让已完成工商变更。", actor_id=user.id
    )
    newer = declaration.pending_withdrawal
    assert newer.id != request.id and request.status is ReviewStatus.SUPERSEDED

    for role in (Role.FINANCE, Role.SYSADMIN, Role.PROVIDER):
        with pytest.raises(PermissionDenied):
            related.approve_withdrawal(session, newer.id, actor_id=create_user(role).id)
    with pytest.raises(ReasonRequired):
        related.reject_withdrawal(session, newer.id, actor_id=reviewer.id, reason=" ")
    related.reject_withdrawal(
        session, newer.id, actor_id=reviewer.id, reason="未见工商变更登记材料"
    )
    assert declaration.is_active and declaration.pending_withdrawal is None
    assert newer.status is ReviewStatus.REJECTED and newer.decided_by_id == reviewer.id
    with pytest.raises(ReviewNotPending):
        related.approve_withdrawal(session, newer.id, actor_id=reviewer.id)
    assert related.related_at(session, provider.id, enterprise.id)

    third = related.withdraw_related_party(
        session, provider, declaration.id, reason="附工商变更登记通知书。", actor_id=user.id
    ).pending_withdrawal
    related.approve_withdrawal(session, third.id, actor_id=reviewer.id, reason="已核对")
    assert not declaration.is_active
    assert declaration.withdrawal_reason == "附工商变更登记通知书。"
    assert declaration.withdrawn_by_id == reviewer.id
    assert not related.related_at(session, provider.id, enterprise.id)
    related.ensure_orderable(session, service, enterprise)

    actions = [
        e.action
        for e in rows(session, AuditEvent, AuditEvent.action.like("provider.related_party_%"))
    ]
    assert actions.count("provider.related_party_withdrawal_requested") == 3
    assert {
        "provider.related_party_withdrawal_superseded",
        "provider.related_party_withdrawal_rejected",
        "provider.related_party_withdrawal_accepted",
    } <= set(actions)
    mails = rows(session, OutboundEmail, OutboundEmail.template == "provider_review_decision")
    assert len(mails) == 2 and all(m.to_address == user.email for m in mails)
    assert any("未见工商变更登记材料" in m.body for m in mails)


def test_a_draft_withdraws_at_once(session, create_provider):
    provider = create_provider(status=ProviderStatus.PENDING)
    declaration = _declare(session, provider, unique_credit_code())
    related.withdraw_related_party(
        session, provider, declaration.id, reason="误报。", actor_id=None
    )
    assert not declaration.is_active and declaration.withdrawals == []


def test_related_at_sees_shared_codes_and_declarations_in_force(
    session, create_provider, create_enterprise
):
    code = unique_credit_code()
    same = create_provider(credit_code=code)
    enterprise = create_enterprise(credit_code=code)
    other = create_provider()
    assert related.related_at(session, same.id, enterprise.id)
    assert not related.related_at(session, other.id, enterprise.id)
    _declare(session, other, enterprise.credit_code)
    assert related.related_at(session, other.id, enterprise.id)
    with pytest.raises(NotFound):
        related.related_at(session, other.id, 10**12)


def test_one_pending_withdrawal_per_declaration_in_the_database(session, create_provider):
    provider = create_provider()
    declaration = _declare(session, provider, unique_credit_code())
    for reason in ("一", "二"):
        session.add(
            RelatedPartyWithdrawal(
                provider_id=provider.id, declaration_id=declaration.id, reason=reason
            )
        )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()
