"""Admission: application → review → public notice → objections → admission, and every later
status change, each with history (actor, reason, time) — on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.enums import InstitutionType
from marketplace.errors import PreconditionFailed, ReasonRequired, ValidationFailed
from providers import admission, evidence, services
from providers.enums import (
    DocumentKind,
    ObjectionStatus,
    ParticipationStatus,
    ProviderAction,
    ProviderStatus,
)
from providers.errors import (
    AccreditationLapsed,
    ApplicationIncomplete,
    ApplicationLocked,
    NoticeNotOver,
    NotInNotice,
    ObjectionAlreadyDecided,
    ObjectionsPending,
    ParticipationNotAllowed,
    ServiceCategoriesLocked,
    TransitionNotAllowed,
)
from providers.models import Objection, ParticipationChange, ProviderStatusChange
from tests.support.provider_fixtures import TODAY
from vouchers.enums import ProgrammeKind


def _history(session, provider):
    return list(
        session.scalars(
            sa.select(ProviderStatusChange)
            .where(ProviderStatusChange.provider_id == provider.id)
            .order_by(ProviderStatusChange.id)
        )
    )


def _object(session, provider, today=TODAY):
    return admission.file_objection(
        session,
        provider.id,
        objector_name="王先生",
        objector_contact="13900000000",
        grounds="该机构检测报告存在造假问题，请核查。",
        today=today,
    )


def test_application_to_admission_keeps_history_with_actor_and_time(
    session, provider_stages, reviewer
):
    provider = provider_stages.draft()
    services.submit_application(session, provider, actor_id=None, today=TODAY)
    assert provider.status is ProviderStatus.PENDING and provider.submitted_at is not None

    admission.pass_to_notice(session, provider, actor_id=reviewer.id, today=TODAY)
    assert provider.status is ProviderStatus.IN_NOTICE
    # The programme's notice_days (7) gives the last day of notice, inclusive.
    assert provider.notice_starts_on == TODAY
    assert provider.notice_ends_on == TODAY + timedelta(days=6)

    admission.admit(
        session, provider, actor_id=reviewer.id, today=provider.notice_ends_on + timedelta(days=1)
    )
    assert provider.status is ProviderStatus.ADMITTED and provider.admitted_at is not None

    history = _history(session, provider)
    assert [(h.action, h.from_status, h.to_status) for h in history] == [
        (ProviderAction.SUBMIT, ProviderStatus.PENDING, ProviderStatus.PENDING),
        (ProviderAction.PASS_TO_NOTICE, ProviderStatus.PENDING, ProviderStatus.IN_NOTICE),
        (ProviderAction.ADMIT, ProviderStatus.IN_NOTICE, ProviderStatus.ADMITTED),
    ]
    assert [h.actor_id for h in history] == [None, reviewer.id, reviewer.id]
    assert all(h.occurred_at is not None for h in history)
    assert [p.status for p in services.participations(session, provider.id)] == [
        ParticipationStatus.ADMITTED
    ]
    actions = set(
        session.scalars(sa.select(AuditEvent.action).where(AuditEvent.subject_id == provider.id))
    )
    assert {"provider.submit", "provider.pass_to_notice", "provider.admit"} <= actions


def test_incomplete_application_lists_what_is_missing_and_writes_nothing(session, create_provider):
    provider = create_provider(
        status=ProviderStatus.PENDING, institution_type=InstitutionType.IP_AGENCY
    )
    with pytest.raises(ApplicationIncomplete) as caught:
        services.submit_application(session, provider, actor_id=None, today=TODAY)
    assert caught.value.code == "application_incomplete"
    assert {
        "accreditation_level",
        "service_categories",
        "bank_account",
        "documents",
        "qualifications",
        "commitment",
        "programmes",
    } <= set(caught.value.errors)
    assert any("patent agency" in m for m in caught.value.errors["qualifications"])
    session.refresh(provider)
    assert provider.submitted_at is None
    assert _history(session, provider) == []


def test_a_certificate_that_expired_since_upload_makes_the_application_incomplete(
    session, provider_stages
):
    provider = provider_stages.draft(expires_on=TODAY + timedelta(days=3))
    with pytest.raises(ApplicationIncomplete) as caught:
        services.submit_application(
            session, provider, actor_id=None, today=TODAY + timedelta(days=4)
        )
    assert "documents" in caught.value.errors


def test_submitting_twice_is_refused(session, provider_stages):
    provider = provider_stages.submitted()
    with pytest.raises(TransitionNotAllowed):
        services.submit_application(session, provider, actor_id=None, today=TODAY)


def test_the_file_is_frozen_under_review_and_edits_need_the_current_version(
    session, provider_stages
):
    provider = provider_stages.draft()
    with pytest.raises(PreconditionFailed):
        services.update_profile(
            session, provider, {"address": "昆明"}, actor_id=None, expected_version=0
        )
    services.update_profile(
        session,
        provider,
        {"address": "昆明市五华区"},
        actor_id=None,
        expected_version=provider.version,
    )
    services.submit_application(session, provider, actor_id=None, today=TODAY)
    with pytest.raises(ApplicationLocked):
        services.update_profile(session, provider, {"address": "曲靖"}, actor_id=None)
    session.refresh(provider)
    assert provider.address == "昆明市五华区"


def test_notice_lasts_the_longest_of_the_programmes_applied_to(
    session, provider_stages, create_programme
):
    programmes = [
        create_programme(kind=ProgrammeKind.INNOVATION, year=TODAY.year, notice_days=7),
        create_programme(kind=ProgrammeKind.SERVICE, year=TODAY.year, notice_days=12),
    ]
    provider = provider_stages.in_notice(programmes=programmes)
    assert provider.notice_ends_on == TODAY + timedelta(days=11)


def test_notice_falls_back_to_the_current_years_programmes_then_seven_days(
    session, create_provider, create_programme
):
    provider = create_provider(status=ProviderStatus.PENDING)
    assert admission.notice_days_for(session, provider, TODAY) == 7
    create_programme(kind=ProgrammeKind.SERVICE, year=TODAY.year, notice_days=15)
    create_programme(kind=ProgrammeKind.INNOVATION, year=TODAY.year + 1, notice_days=30)
    assert admission.notice_days_for(session, provider, TODAY) == 15


def test_admission_waits_for_the_end_of_the_notice(session, provider_stages):
    provider = provider_stages.in_notice()
    last_day = provider.notice_ends_on
    with pytest.raises(NoticeNotOver) as caught:
        admission.admit(session, provider, actor_id=None, today=last_day)
    assert caught.value.code == "notice_not_over"
    assert provider.status is ProviderStatus.IN_NOTICE
    admission.admit(session, provider, actor_id=None, today=last_day + timedelta(days=1))
    assert provider.status is ProviderStatus.ADMITTED


def test_anyone_may_object_during_the_notice(session, provider_stages):
    provider = provider_stages.in_notice()
    objection = _object(session, provider, today=provider.notice_ends_on)
    assert objection.status is ObjectionStatus.OPEN
    assert objection.provider_id == provider.id


@pytest.mark.parametrize("stage", ["draft", "submitted", "admitted"])
def test_objections_on_providers_not_in_notice_are_refused(session, provider_stages, stage):
    provider = getattr(provider_stages, stage)()
    before = session.scalar(sa.select(sa.func.count()).select_from(Objection))
    with pytest.raises(NotInNotice) as caught:
        _object(session, provider)
    assert caught.value.code == "provider_not_in_notice"
    assert session.scalar(sa.select(sa.func.count()).select_from(Objection)) == before


def test_objections_after_the_notice_ended_are_refused(session, provider_stages):
    provider = provider_stages.in_notice()
    with pytest.raises(NotInNotice):
        _object(session, provider, today=provider.notice_ends_on + timedelta(days=1))


def test_an_objection_needs_grounds(session, provider_stages):
    provider = provider_stages.in_notice()
    with pytest.raises(ValidationFailed) as caught:
        admission.file_objection(
            session, provider.id, objector_name="王", objector_contact="x", grounds="", today=TODAY
        )
    assert {"objector_name", "objector_contact", "grounds"} <= set(caught.value.errors)
    assert session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 0


def test_an_open_objection_blocks_admission_until_dismissed(session, provider_stages, reviewer):
    provider = provider_stages.in_notice()
    objection = _object(session, provider)
    after = provider.notice_ends_on + timedelta(days=1)
    with pytest.raises(ObjectionsPending):
        admission.admit(session, provider, actor_id=reviewer.id, today=after)
    with pytest.raises(ReasonRequired):
        admission.decide_objection(
            session, objection.id, uphold=False, reason="  ", actor_id=reviewer.id
        )
    admission.decide_objection(
        session, objection.id, uphold=False, reason="经核查，报告真实有效。", actor_id=reviewer.id
    )
    assert objection.status is ObjectionStatus.DISMISSED and objection.decided_by_id == reviewer.id
    admission.admit(session, provider, actor_id=reviewer.id, today=after)
    assert provider.status is ProviderStatus.ADMITTED


def test_an_upheld_objection_refuses_the_admission_with_its_reason(
    session, provider_stages, reviewer
):
    provider = provider_stages.in_notice()
    objection = _object(session, provider)
    admission.decide_objection(
        session, objection.id, uphold=True, reason="报告确有造假。", actor_id=reviewer.id
    )
    assert provider.status is ProviderStatus.REJECTED
    assert "报告确有造假" in (provider.status_reason or "")
    last = _history(session, provider)[-1]
    assert (last.action, last.actor_id) == (ProviderAction.UPHOLD_OBJECTION, reviewer.id)
    assert [p.status for p in services.participations(session, provider.id)] == [
        ParticipationStatus.REJECTED
    ]
    with pytest.raises(ObjectionAlreadyDecided):
        admission.decide_objection(
            session, objection.id, uphold=False, reason="再议", actor_id=reviewer.id
        )
    with pytest.raises(TransitionNotAllowed):
        admission.admit(
            session, provider, actor_id=None, today=provider.notice_ends_on + timedelta(days=1)
        )


def test_after_an_upheld_objection_a_new_application_is_judged_on_its_own_notice(
    session, provider_stages, reviewer
):
    provider = provider_stages.in_notice()
    first_round = admission.current_notice_round(session, provider.id)
    upheld, left_open = _object(session, provider), _object(session, provider)
    assert upheld.notice_change_id == first_round == left_open.notice_change_id
    admission.decide_objection(
        session, upheld.id, uphold=True, reason="报告确有造假。", actor_id=reviewer.id
    )
    assert provider.status is ProviderStatus.REJECTED
    # The provider puts things right and applies again: a new review and a new notice.
    services.submit_application(session, provider, actor_id=None, today=TODAY)
    admission.pass_to_notice(session, provider, actor_id=reviewer.id, today=TODAY)
    second_round = admission.current_notice_round(session, provider.id)
    assert second_round is not None and second_round != first_round
    after = provider.notice_ends_on + timedelta(days=1)
    # An objection of this round still counts …
    fresh = _object(session, provider)
    assert fresh.notice_change_id == second_round
    with pytest.raises(ObjectionsPending):
        admission.admit(session, provider, actor_id=reviewer.id, today=after)
    admission.decide_objection(
        session, fresh.id, uphold=False, reason="已整改到位。", actor_id=reviewer.id
    )
    # … while the earlier round's (upheld, or left open) no longer do. Deciding a leftover
    # records the decision without refusing the new application.
    admission.decide_objection(
        session, left_open.id, uphold=True, reason="同一问题，已整改。", actor_id=reviewer.id
    )
    assert provider.status is ProviderStatus.IN_NOTICE
    admission.admit(session, provider, actor_id=reviewer.id, today=after)
    assert provider.status is ProviderStatus.ADMITTED
    assert [p.status for p in services.participations(session, provider.id)] == [
        ParticipationStatus.ADMITTED
    ]


def test_an_upheld_objection_of_the_current_round_still_blocks_admission(
    session, provider_stages, reviewer
):
    provider = provider_stages.in_notice()
    objection = _object(session, provider)
    # Upheld outside the usual path (the status left in notice): admission must still refuse.
    objection.status = ObjectionStatus.UPHELD
    objection.decision_reason = "成立"
    objection.decided_at = provider.created_at
    session.flush()
    with pytest.raises(TransitionNotAllowed):
        admission.admit(
            session, provider, actor_id=None, today=provider.notice_ends_on + timedelta(days=1)
        )


def test_admitted_service_categories_are_locked(session, provider_stages):
    draft = provider_stages.draft()
    services.update_profile(session, draft, {"service_categories": ["testing"]}, actor_id=None)
    assert draft.service_categories == ["testing"]

    provider = provider_stages.admitted()
    held = list(provider.service_categories)
    for wanted in ([*held, "audit"], held[:1]):
        with pytest.raises(ServiceCategoriesLocked) as caught:
            services.update_profile(
                session, provider, {"service_categories": wanted}, actor_id=None
            )
        assert caught.value.field == "service_categories"
        assert "new application" in caught.value.message
    assert provider.service_categories == held
    # Sending the same categories (in any order) with other changes is fine.
    services.update_profile(
        session,
        provider,
        {"service_categories": list(reversed(held)), "address": "昆明市呈贡区"},
        actor_id=None,
    )
    assert provider.address == "昆明市呈贡区" and provider.service_categories == held


def test_rejection_needs_a_reason_and_resubmission_reapplies(session, provider_stages, reviewer):
    provider = provider_stages.submitted()
    with pytest.raises(ReasonRequired):
        admission.reject(session, provider, reason="", actor_id=reviewer.id)
    assert provider.status is ProviderStatus.PENDING
    admission.reject(session, provider, reason="营业执照不清晰。", actor_id=reviewer.id)
    assert provider.status is ProviderStatus.REJECTED
    assert provider.status_reason == "营业执照不清晰。"
    assert services.participations(session, provider.id)[0].status is ParticipationStatus.REJECTED

    services.submit_application(session, provider, actor_id=None, today=TODAY)
    assert provider.status is ProviderStatus.PENDING
    assert services.participations(session, provider.id)[0].status is ParticipationStatus.APPLIED


def test_a_draft_cannot_be_passed_or_rejected(session, provider_stages, reviewer):
    provider = provider_stages.draft()
    with pytest.raises(TransitionNotAllowed):
        admission.pass_to_notice(session, provider, actor_id=reviewer.id, today=TODAY)
    with pytest.raises(TransitionNotAllowed):
        admission.reject(session, provider, reason="不完整", actor_id=reviewer.id)


def test_suspend_reinstate_revoke_each_need_a_reason_and_leave_history(
    session, provider_stages, reviewer
):
    provider = provider_stages.admitted()
    for action in (admission.suspend, admission.revoke):
        with pytest.raises(ReasonRequired):
            action(session, provider, reason=" ", actor_id=reviewer.id)
    admission.suspend(session, provider, reason="投诉较多，暂停整改。", actor_id=reviewer.id)
    assert provider.status is ProviderStatus.SUSPENDED
    with pytest.raises(ReasonRequired):
        admission.reinstate(session, provider, reason="", actor_id=reviewer.id, today=TODAY)
    admission.reinstate(session, provider, reason="整改完成。", actor_id=reviewer.id, today=TODAY)
    assert provider.status is ProviderStatus.ADMITTED
    admission.revoke(session, provider, reason="严重失信。", actor_id=reviewer.id)
    assert provider.status is ProviderStatus.REVOKED
    with pytest.raises(TransitionNotAllowed):
        admission.reinstate(session, provider, reason="再议", actor_id=reviewer.id, today=TODAY)
    tail = _history(session, provider)[-3:]
    assert [(h.action, h.reason, h.actor_id) for h in tail] == [
        (ProviderAction.SUSPEND, "投诉较多，暂停整改。", reviewer.id),
        (ProviderAction.REINSTATE, "整改完成。", reviewer.id),
        (ProviderAction.REVOKE, "严重失信。", reviewer.id),
    ]


def test_the_database_refuses_a_refusal_without_reason(session, create_provider):
    provider = create_provider()
    session.add(
        ProviderStatusChange(
            provider_id=provider.id,
            action=ProviderAction.SUSPEND,
            from_status=ProviderStatus.ADMITTED,
            to_status=ProviderStatus.SUSPENDED,
            reason=None,
        )
    )
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.flush()


def test_lapsed_accreditation_suspends_and_blocks_reinstatement_until_renewed(
    app, session, provider_stages, upload_provider_document, reviewer
):
    expiry = TODAY + timedelta(days=30)
    provider = provider_stages.admitted(expires_on=expiry)
    after = expiry + timedelta(days=1)
    assert [p.provider_id for p in admission.lapsed_providers(session, expiry)] == []
    lapsed = admission.lapsed_providers(session, after)
    assert [p.provider_id for p in lapsed] == [provider.id]
    assert DocumentKind.CMA_CERTIFICATE in lapsed[0].lapsed

    assert admission.suspend_lapsed(session, provider.id, actor_id=None, today=after)
    assert provider.status is ProviderStatus.SUSPENDED
    assert "CMA" in (provider.status_reason or "")
    assert not admission.suspend_lapsed(session, provider.id, actor_id=None, today=after)

    with pytest.raises(AccreditationLapsed) as caught:
        admission.reinstate(session, provider, reason="已续证", actor_id=None, today=after)
    assert caught.value.code == "accreditation_lapsed"
    renewal = upload_provider_document(
        provider,
        DocumentKind.CMA_CERTIFICATE,
        filename="cma-2027.pdf",
        expires_on=after + timedelta(days=365),
        today=after,
    )
    # The renewal counts once a reviewer accepted it, not on the provider's word.
    with pytest.raises(AccreditationLapsed):
        admission.reinstate(session, provider, reason="已续证", actor_id=None, today=after)
    with app.app_context():  # the provider is told the decision by e-mail
        evidence.approve_document(session, renewal.id, actor_id=reviewer.id)
    admission.reinstate(session, provider, reason="已续证", actor_id=None, today=after)
    assert provider.status is ProviderStatus.ADMITTED
    assert admission.lapsed_providers(session, after) == []


def test_participation_is_decided_per_programme(
    session, provider_stages, create_programme, reviewer
):
    innovation = create_programme(kind=ProgrammeKind.INNOVATION, year=TODAY.year)
    service = create_programme(kind=ProgrammeKind.SERVICE, year=TODAY.year)
    provider = provider_stages.in_notice(programmes=[innovation, service])
    with pytest.raises(ParticipationNotAllowed):
        admission.decide_participation(
            session,
            provider,
            innovation.id,
            ParticipationStatus.ADMITTED,
            reason=None,
            actor_id=reviewer.id,
        )
    admission.decide_participation(
        session,
        provider,
        service.id,
        ParticipationStatus.REJECTED,
        reason="服务券不支持检验检测类。",
        actor_id=reviewer.id,
    )
    admission.admit(
        session, provider, actor_id=reviewer.id, today=provider.notice_ends_on + timedelta(days=1)
    )
    standing = {p.programme_id: p.status for p in services.participations(session, provider.id)}
    assert standing == {
        innovation.id: ParticipationStatus.ADMITTED,
        service.id: ParticipationStatus.REJECTED,
    }
    with pytest.raises(ReasonRequired):
        admission.decide_participation(
            session,
            provider,
            innovation.id,
            ParticipationStatus.WITHDRAWN,
            reason=None,
            actor_id=reviewer.id,
        )
    admission.decide_participation(
        session,
        provider,
        innovation.id,
        ParticipationStatus.WITHDRAWN,
        reason="年度考核不合格。",
        actor_id=reviewer.id,
    )
    with pytest.raises(ParticipationNotAllowed):
        admission.decide_participation(
            session,
            provider,
            innovation.id,
            ParticipationStatus.REJECTED,
            reason="x",
            actor_id=reviewer.id,
        )
    participation = admission.participation_for(session, provider.id, innovation.id)
    changes = session.scalars(
        sa.select(ParticipationChange)
        .where(ParticipationChange.participation_id == participation.id)
        .order_by(ParticipationChange.id)
    ).all()
    assert [(c.to_status, c.actor_id) for c in changes] == [
        (ParticipationStatus.APPLIED, None),
        (ParticipationStatus.ADMITTED, reviewer.id),
        (ParticipationStatus.WITHDRAWN, reviewer.id),
    ]
    assert changes[-1].reason == "年度考核不合格。"


def test_provider_withdraws_a_programme_by_unticking_it(session, provider_stages, create_programme):
    innovation = create_programme(kind=ProgrammeKind.INNOVATION, year=TODAY.year)
    service = create_programme(kind=ProgrammeKind.SERVICE, year=TODAY.year)
    provider = provider_stages.draft(programmes=[innovation, service])
    services.choose_programmes(session, provider, [service.id], actor_id=None, today=TODAY)
    standing = {p.programme_id: p for p in services.participations(session, provider.id)}
    assert standing[innovation.id].status is ParticipationStatus.WITHDRAWN
    assert standing[innovation.id].reason == services.WITHDRAWN_BY_APPLICANT
    assert standing[service.id].status is ParticipationStatus.APPLIED
