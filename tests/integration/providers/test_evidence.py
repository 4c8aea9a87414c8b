"""Evidence a provider changes after its file was reviewed — documents and qualification
numbers — counts only once a reviewer accepts it; until then what was accepted before stays in
force, for accreditation lapse and on the public pages. On both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from marketplace.audit.models import AuditEvent
from marketplace.enums import InstitutionType, Role, ServiceCategory
from marketplace.errors import NotFound, PermissionDenied, ReasonRequired, ValidationFailed
from marketplace.notifications.models import OutboundEmail
from providers import admission, documents, evidence, services
from providers.enums import DocumentKind, ProviderStatus, QualificationKind, ReviewStatus
from providers.errors import (
    AccreditationLapsed,
    ApplicationLocked,
    DuplicateQualification,
    ReviewNotPending,
    ReviewSelfApproval,
)
from providers.models import ProviderDocument, QualificationChange
from providers.search import public_provider
from tests.conftest import rows
from tests.support.provider_fixtures import PDF, TODAY, cma_number

EXPIRY = TODAY + timedelta(days=30)
AFTER = EXPIRY + timedelta(days=1)


@pytest.fixture
def ctx(app):
    """Decisions e-mail the provider; the outbox reads the app's settings."""
    with app.app_context():
        yield


@pytest.fixture
def admitted(provider_stages, create_user):
    """An admitted testing centre whose CMA certificate expires on EXPIRY, and its user."""
    provider = provider_stages.admitted(expires_on=EXPIRY)
    return provider, create_user(Role.PROVIDER, provider=provider)


def _audit(session, action):
    return rows(session, AuditEvent, AuditEvent.action == action)


def _mails(session):
    return rows(session, OutboundEmail, OutboundEmail.template == "provider_review_decision")


def _renew(upload, provider, user, *, expires_on=AFTER + timedelta(days=365), today=EXPIRY):
    document = upload(
        provider,
        DocumentKind.CMA_CERTIFICATE,
        filename="cma-renewed.pdf",
        expires_on=expires_on,
        today=today,
    )
    document.uploaded_by_id = user.id  # as the portal records it
    return document


# --------------------------------------------------------------------------- documents


def test_the_application_documents_are_accepted_when_it_passes_to_notice(
    session, provider_stages, reviewer
):
    provider = provider_stages.submitted()
    assert {d.review_status for d in documents.documents_of(session, provider.id)} == {
        ReviewStatus.PENDING
    }
    admission.pass_to_notice(session, provider, actor_id=reviewer.id, today=TODAY)
    accepted = documents.documents_of(session, provider.id)
    assert {d.review_status for d in accepted} == {ReviewStatus.ACCEPTED}
    assert {d.decided_by_id for d in accepted} == {reviewer.id}
    (event,) = _audit(session, "provider.documents_accepted_with_application")
    assert sorted(event.detail["document_ids"]) == sorted(d.id for d in accepted)


def test_a_self_declared_renewal_does_not_stop_suspension_until_accepted(
    ctx, session, admitted, upload_provider_document, reviewer
):
    provider, user = admitted
    renewal = _renew(upload_provider_document, provider, user)
    assert renewal.review_status is ReviewStatus.PENDING
    # The provider's own word that the new certificate runs another year changes nothing.
    assert [p.provider_id for p in admission.lapsed_providers(session, AFTER)] == [provider.id]
    assert admission.suspend_lapsed(session, provider.id, actor_id=None, today=AFTER)
    assert provider.status is ProviderStatus.SUSPENDED
    with pytest.raises(AccreditationLapsed):
        admission.reinstate(session, provider, reason="已续证", actor_id=reviewer.id, today=AFTER)

    evidence.approve_document(session, renewal.id, actor_id=reviewer.id, reason="已核对原件")
    assert renewal.review_status is ReviewStatus.ACCEPTED
    assert (renewal.decided_by_id, renewal.decision_reason) == (reviewer.id, "已核对原件")
    assert admission.lapsed_providers(session, AFTER) == []
    admission.reinstate(session, provider, reason="已续证", actor_id=reviewer.id, today=AFTER)
    assert provider.status is ProviderStatus.ADMITTED
    (event,) = _audit(session, "provider.document_accepted")
    assert event.detail["document_id"] == renewal.id and event.actor_id == reviewer.id
    (mail,) = _mails(session)
    assert mail.to_address == user.email and "cma-renewed.pdf" in mail.body
    assert "审核通过" in mail.body


def test_a_rejected_document_never_counts_and_needs_a_reason(
    ctx, session, admitted, upload_provider_document, reviewer
):
    provider, user = admitted
    renewal = _renew(upload_provider_document, provider, user)
    with pytest.raises(ReasonRequired):
        evidence.reject_document(session, renewal.id, actor_id=reviewer.id, reason="  ")
    evidence.reject_document(
        session, renewal.id, actor_id=reviewer.id, reason="证书编号与CMA系统不符"
    )
    assert renewal.review_status is ReviewStatus.REJECTED
    assert renewal.decision_reason == "证书编号与CMA系统不符"
    assert admission.suspend_lapsed(session, provider.id, actor_id=None, today=AFTER)
    # Nor does it count for the file's completeness.
    assert "documents" in services.missing_for_submission(session, provider, AFTER)
    with pytest.raises(ReviewNotPending) as caught:
        evidence.approve_document(session, renewal.id, actor_id=reviewer.id)
    assert caught.value.extra == {"status": "rejected"}
    (mail,) = _mails(session)
    assert "证书编号与CMA系统不符" in mail.body and "Reason" in mail.body
    (event,) = _audit(session, "provider.document_rejected")
    assert event.detail["reason"] == "证书编号与CMA系统不符"


def test_only_a_reviewer_other_than_the_uploader_decides(
    ctx, session, admitted, upload_provider_document, create_user
):
    provider, user = admitted
    renewal = _renew(upload_provider_document, provider, user)
    for role in (Role.FINANCE, Role.SYSADMIN, Role.AUDITOR, Role.PROVIDER):
        with pytest.raises(PermissionDenied):
            evidence.approve_document(session, renewal.id, actor_id=create_user(role).id)
    with pytest.raises(PermissionDenied):
        evidence.approve_document(session, renewal.id, actor_id=None)
    # Whoever uploaded it cannot accept it (a reviewer uploading on a provider's behalf).
    reviewer = create_user(Role.REVIEWER)
    renewal.uploaded_by_id = reviewer.id
    session.flush()
    with pytest.raises(ReviewSelfApproval) as caught:
        evidence.approve_document(session, renewal.id, actor_id=reviewer.id)
    assert caught.value.code == "review_self_approval" and caught.value.status == 403
    with pytest.raises(NotFound):
        evidence.approve_document(session, 10**12, actor_id=reviewer.id)
    assert renewal.review_status is ReviewStatus.PENDING


def test_a_document_uploaded_during_the_notice_waits_for_its_own_review(
    ctx, session, provider_stages, upload_provider_document, reviewer
):
    # The certificate runs out during the notice; the renewal needs a reviewer before admission.
    provider = provider_stages.in_notice(expires_on=TODAY + timedelta(days=3))
    day = provider.notice_ends_on + timedelta(days=1)
    renewal = upload_provider_document(
        provider, DocumentKind.CMA_CERTIFICATE, expires_on=day + timedelta(days=365), today=TODAY
    )
    assert evidence.awaits_own_review(provider)
    with pytest.raises(AccreditationLapsed):
        admission.admit(session, provider, actor_id=reviewer.id, today=day)
    evidence.approve_document(session, renewal.id, actor_id=reviewer.id)
    admission.admit(session, provider, actor_id=reviewer.id, today=day)
    assert provider.status is ProviderStatus.ADMITTED


@pytest.mark.parametrize("kind", sorted(DocumentKind, key=lambda k: k.value))
def test_every_accreditation_document_needs_an_expiry_date(
    session, create_provider, upload_provider_document, kind
):
    provider = create_provider(status=ProviderStatus.PENDING)
    accreditation = kind in {
        DocumentKind.ACCREDITATION,
        DocumentKind.CMA_CERTIFICATE,
        DocumentKind.CNAS_CERTIFICATE,
        DocumentKind.PATENT_AGENCY_LICENCE,
    }
    if accreditation:
        with pytest.raises(ValidationFailed) as caught:
            upload_provider_document(provider, kind)
        assert "expires_on" in caught.value.errors
    else:
        assert upload_provider_document(provider, kind).expires_on is None


def test_a_patent_agency_licence_lapses_like_any_accreditation(session, provider_stages, reviewer):
    provider = provider_stages.admitted(
        institution_type=InstitutionType.IP_AGENCY,
        categories=(ServiceCategory.IP,),
        expires_on=EXPIRY,
    )
    (lapsed,) = admission.lapsed_providers(session, AFTER)
    assert lapsed.provider_id == provider.id
    assert set(lapsed.lapsed) == {DocumentKind.PATENT_AGENCY_LICENCE}
    assert admission.suspend_lapsed(session, provider.id, actor_id=None, today=AFTER)


def test_the_database_refuses_a_rejection_without_reason_and_unknown_states(
    session, create_provider, upload_provider_document
):
    document = upload_provider_document(create_provider(status=ProviderStatus.PENDING))
    for values in ("review_status = 'rejected'", "review_status = 'superseded'"):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(
                sa.text(f"UPDATE provider_documents SET {values} WHERE id = :i"),
                {"i": document.id},
            )
    session.execute(
        sa.text(
            "UPDATE provider_documents SET review_status = 'rejected', decision_reason = '模糊',"
            " decided_at = uploaded_at WHERE id = :i"
        ),
        {"i": document.id},
    )


# --------------------------------------------------------------------------- qualifications


def _set(session, provider, kind, number, actor_id):
    return services.set_qualification(
        session, provider, kind, number, valid_until=None, actor_id=actor_id, today=TODAY
    )


def _cma(provider):
    return next(q for q in provider.qualifications if q.kind is QualificationKind.CMA)


def test_after_admission_a_new_number_is_a_request_and_the_old_one_stays_public(
    ctx, session, admitted, reviewer
):
    provider, user = admitted
    live = _cma(provider).number
    new = cma_number()
    change = services.set_qualification(
        session,
        provider,
        QualificationKind.CMA,
        new,
        valid_until=TODAY + timedelta(days=700),
        actor_id=user.id,
        today=TODAY,
    )
    assert isinstance(change, QualificationChange)
    assert change.status is ReviewStatus.PENDING and change.number == new
    session.expire_all()
    assert _cma(public_provider(session, provider.id)).number == live
    assert evidence.pending_qualification_changes(session, provider.id) == [change]
    (event,) = _audit(session, "provider.qualification_change_requested")
    assert event.detail["live_number"] == live and event.detail["number"] == new

    # Asking again for the same is no new request; a different number supersedes.
    again = services.set_qualification(
        session,
        provider,
        QualificationKind.CMA,
        new,
        valid_until=TODAY + timedelta(days=700),
        actor_id=user.id,
        today=TODAY,
    )
    assert again.id == change.id
    newer = cma_number()
    latest = services.set_qualification(
        session,
        provider,
        QualificationKind.CMA,
        newer,
        valid_until=None,
        actor_id=user.id,
        today=TODAY,
    )
    session.refresh(change)
    assert change.status is ReviewStatus.SUPERSEDED and change.decided_at is not None
    with pytest.raises(ReviewNotPending):
        evidence.approve_qualification_change(session, change.id, actor_id=reviewer.id)

    evidence.approve_qualification_change(session, latest.id, actor_id=reviewer.id)
    session.expire_all()
    assert _cma(public_provider(session, provider.id)).number == newer
    assert latest.status is ReviewStatus.ACCEPTED and latest.decided_by_id == reviewer.id
    (accepted,) = _audit(session, "provider.qualification_change_accepted")
    assert accepted.detail["previous_number"] == live
    (mail,) = _mails(session)
    assert newer in mail.body and mail.to_address == user.email


def test_a_rejected_number_leaves_the_live_one(ctx, session, admitted, reviewer):
    provider, user = admitted
    live = _cma(provider).number
    change = _set(session, provider, QualificationKind.CMA, cma_number(), user.id)
    with pytest.raises(ReasonRequired):
        evidence.reject_qualification_change(session, change.id, actor_id=reviewer.id, reason="")
    evidence.reject_qualification_change(
        session, change.id, actor_id=reviewer.id, reason="CMA系统查无此号"
    )
    session.expire_all()
    assert _cma(provider).number == live
    assert change.status is ReviewStatus.REJECTED and change.decision_reason == "CMA系统查无此号"
    (mail,) = _mails(session)
    assert "CMA系统查无此号" in mail.body


def test_a_new_kind_after_admission_and_a_number_taken_meanwhile(
    ctx, session, admitted, provider_stages, reviewer
):
    provider, user = admitted
    change = _set(session, provider, QualificationKind.CNAS, "CNAS L9876", user.id)
    assert isinstance(change, QualificationChange)
    assert QualificationKind.CNAS not in {q.kind for q in provider.qualifications}
    # Another institution registers the number (before admission, directly) in the meantime.
    other = provider_stages.draft()
    _set(session, other, QualificationKind.CNAS, "CNAS L9876", None)
    with pytest.raises(DuplicateQualification):
        evidence.approve_qualification_change(session, change.id, actor_id=reviewer.id)
    assert change.status is ReviewStatus.PENDING


def test_suspended_providers_ask_too_and_the_notice_stays_frozen(
    session, admitted, provider_stages, reviewer
):
    provider, user = admitted
    admission.suspend(session, provider, reason="年检", actor_id=reviewer.id)
    change = _set(session, provider, QualificationKind.CMA, cma_number(), user.id)
    assert isinstance(change, QualificationChange)
    in_notice = provider_stages.in_notice()
    with pytest.raises(ApplicationLocked):
        _set(session, in_notice, QualificationKind.CMA, cma_number(), None)


def test_one_pending_request_per_kind_in_the_database(session, admitted):
    provider, user = admitted
    for _ in range(2):
        session.add(
            QualificationChange(
                provider_id=provider.id,
                kind=QualificationKind.CMA,
                number=cma_number(),
                requested_by_id=user.id,
            )
        )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()


def test_documents_keep_their_file_once_rejected(
    ctx, session, admitted, upload_provider_document, provider_storage, reviewer
):
    provider, user = admitted
    renewal = _renew(upload_provider_document, provider, user)
    evidence.reject_document(session, renewal.id, actor_id=reviewer.id, reason="模糊不清")
    assert provider_storage.path_for(renewal.stored_name).read_bytes() == PDF
    assert session.get(ProviderDocument, renewal.id) is not None
