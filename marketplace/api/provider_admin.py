"""Provider administration over JSON: the admission queue and decisions, programme
participation, objections to the public notice, assessments and the credit score."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.provider_common import ADMINS, REVIEWERS, document_content, file_view, today
from marketplace.db import db_session
from marketplace.pagination import Page, paginate
from providers import admission, credit, documents, related, services
from providers.enums import AssessorKind, ParticipationStatus
from providers.models import Objection, Provider
from providers.presenters import commitment_view, credit_view
from providers.schemas import (
    AssessmentIn,
    AssessmentOut,
    CommitmentTextOut,
    CreditEventOut,
    CreditOut,
    DocumentContentOut,
    DocumentOut,
    Extended,
    ObjectionListQuery,
    ObjectionOut,
    ParticipationDecisionIn,
    ParticipationOut,
    ProviderListQuery,
    ProviderOut,
    ProviderSummaryOut,
    ReasonIn,
    RelatedPartyOut,
    ThirdPartyAssessmentIn,
)


def _admin_provider(provider_id: int) -> Provider:
    return services.get_provider(db_session(), provider_id)


@endpoint(
    bp,
    "/admin/providers",
    "GET",
    roles=ADMINS,
    query=ProviderListQuery,
    response=ProviderSummaryOut,
    paginated=True,
    tags=["admin: providers"],
    summary="Providers, filtered by status (the review queue: status=pending&submitted=true)",
)
def admin_providers(query: dict[str, Any]) -> Page:
    stmt = sa.select(Provider)
    if query["status"] is not None:
        stmt = stmt.where(Provider.status == query["status"])
    if query["submitted"] is not None:
        column = Provider.submitted_at
        stmt = stmt.where(column.is_not(None) if query["submitted"] else column.is_(None))
    return paginate(
        db_session(),
        stmt,
        sort_column=Provider.id,
        id_column=Provider.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>",
    "GET",
    roles=ADMINS,
    response=ProviderOut,
    tags=["admin: providers"],
    summary="A provider's whole admission file",
)
def admin_provider(provider_id: int) -> Extended:
    return file_view(_admin_provider(provider_id))


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/documents",
    "GET",
    roles=ADMINS,
    response=DocumentOut,
    many=True,
    tags=["admin: providers"],
    summary="A provider's supporting documents",
)
def admin_documents(provider_id: int) -> list[Any]:
    return documents.documents_of(db_session(), _admin_provider(provider_id).id)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/documents/<int:document_id>",
    "GET",
    roles=ADMINS,
    response=DocumentContentOut,
    tags=["admin: providers"],
    summary="One supporting document, with its content (base64)",
)
def admin_document(provider_id: int, document_id: int) -> Extended:
    return document_content(documents.get_document(db_session(), provider_id, document_id))


def _decision(action: str, provider_id: int, reason: str | None) -> Extended:
    session = db_session()
    provider = _admin_provider(provider_id)
    actor = api_user().id
    day = today()
    if action == "pass-to-notice":
        provider = admission.pass_to_notice(session, provider, actor_id=actor, today=day)
    elif action == "admit":
        provider = admission.admit(session, provider, actor_id=actor, today=day)
    elif action == "reject":
        provider = admission.reject(session, provider, reason=reason or "", actor_id=actor)
    elif action == "suspend":
        provider = admission.suspend(session, provider, reason=reason or "", actor_id=actor)
    elif action == "reinstate":
        provider = admission.reinstate(
            session, provider, reason=reason or "", actor_id=actor, today=day
        )
    else:
        provider = admission.revoke(session, provider, reason=reason or "", actor_id=actor)
    return file_view(provider)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/commitment",
    "GET",
    roles=ADMINS,
    response=CommitmentTextOut,
    tags=["admin: providers"],
    summary="Whether and by whom the provider signed the current credit commitment",
)
def admin_commitment(provider_id: int) -> dict[str, Any]:
    return commitment_view(db_session(), _admin_provider(provider_id).id)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/pass-to-notice",
    "POST",
    roles=REVIEWERS,
    response=ProviderOut,
    errors=[409],
    tags=["admin: providers"],
    summary="The check passed: start the public notice today",
)
def admin_pass_to_notice(provider_id: int) -> Extended:
    return _decision("pass-to-notice", provider_id, None)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/admit",
    "POST",
    roles=REVIEWERS,
    response=ProviderOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Admit after the notice ended with no objection open or upheld",
)
def admin_admit(provider_id: int) -> Extended:
    return _decision("admit", provider_id, None)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/reject",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=ProviderOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Reject a submitted application, with a reason",
)
def admin_reject(provider_id: int, body: dict[str, Any]) -> Extended:
    return _decision("reject", provider_id, body["reason"])


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/suspend",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=ProviderOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Suspend an admitted provider, with a reason",
)
def admin_suspend(provider_id: int, body: dict[str, Any]) -> Extended:
    return _decision("suspend", provider_id, body["reason"])


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/reinstate",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=ProviderOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Lift a suspension, with a reason",
)
def admin_reinstate(provider_id: int, body: dict[str, Any]) -> Extended:
    return _decision("reinstate", provider_id, body["reason"])


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/revoke",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=ProviderOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Revoke the admission for good, with a reason",
)
def admin_revoke(provider_id: int, body: dict[str, Any]) -> Extended:
    return _decision("revoke", provider_id, body["reason"])


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/programmes/<int:programme_id>",
    "PUT",
    roles=REVIEWERS,
    body=ParticipationDecisionIn,
    response=ParticipationOut,
    errors=[409],
    idempotent=False,
    tags=["admin: providers"],
    summary="Admit, reject or withdraw the provider in one programme",
)
def admin_participation(provider_id: int, programme_id: int, body: dict[str, Any]) -> Any:
    return admission.decide_participation(
        db_session(),
        _admin_provider(provider_id),
        programme_id,
        ParticipationStatus(body["status"]),
        reason=body["reason"],
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/admin/objections",
    "GET",
    roles=ADMINS,
    query=ObjectionListQuery,
    response=ObjectionOut,
    paginated=True,
    tags=["admin: providers"],
    summary="Objections filed against providers in notice (all, or one provider's)",
)
def admin_objections(query: dict[str, Any]) -> Page:
    stmt = sa.select(Objection)
    if query["status"] is not None:
        stmt = stmt.where(Objection.status == query["status"])
    if query["provider_id"] is not None:
        stmt = stmt.where(Objection.provider_id == query["provider_id"])
    return paginate(
        db_session(),
        stmt,
        sort_column=Objection.id,
        id_column=Objection.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/admin/objections/<int:objection_id>/uphold",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=ObjectionOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Uphold an objection (the admission is refused), with a reason",
)
def admin_uphold(objection_id: int, body: dict[str, Any]) -> Objection:
    return admission.decide_objection(
        db_session(), objection_id, uphold=True, reason=body["reason"], actor_id=api_user().id
    )


@endpoint(
    bp,
    "/admin/objections/<int:objection_id>/dismiss",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=ObjectionOut,
    errors=[409],
    tags=["admin: providers"],
    summary="Dismiss an objection, with a reason",
)
def admin_dismiss(objection_id: int, body: dict[str, Any]) -> Objection:
    return admission.decide_objection(
        db_session(), objection_id, uphold=False, reason=body["reason"], actor_id=api_user().id
    )


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/assessments",
    "GET",
    roles=ADMINS,
    response=AssessmentOut,
    many=True,
    tags=["admin: providers"],
    summary="Administrators' and third parties' assessments of a provider",
)
def admin_assessments(provider_id: int) -> list[Any]:
    return credit.assessments_of(db_session(), _admin_provider(provider_id).id)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/assessments",
    "POST",
    roles=REVIEWERS,
    body=AssessmentIn,
    response=AssessmentOut,
    status=201,
    tags=["admin: providers"],
    summary="Record the administrators' own assessment (combined evaluation, 0–100)",
)
def admin_assess(provider_id: int, body: dict[str, Any]) -> Any:
    return credit.record_assessment(
        db_session(),
        _admin_provider(provider_id),
        assessor_kind=AssessorKind.ADMINISTRATOR,
        actor_id=api_user().id,
        **body,
    )


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/third-party-assessments",
    "POST",
    roles=REVIEWERS,
    body=ThirdPartyAssessmentIn,
    response=AssessmentOut,
    status=201,
    tags=["admin: providers"],
    summary="Record a third-party evaluator's report (evaluators have no accounts)",
)
def admin_third_party_assess(provider_id: int, body: dict[str, Any]) -> Any:
    return credit.record_assessment(
        db_session(),
        _admin_provider(provider_id),
        assessor_kind=AssessorKind.THIRD_PARTY,
        actor_id=api_user().id,
        **body,
    )


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/credit-events",
    "GET",
    roles=ADMINS,
    response=CreditEventOut,
    many=True,
    tags=["admin: providers"],
    summary="Upheld disputes and late deliveries counted against the provider, newest first",
)
def admin_credit_events(provider_id: int) -> list[Any]:
    return credit.credit_events_of(db_session(), _admin_provider(provider_id).id)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/related-parties",
    "GET",
    roles=ADMINS,
    response=RelatedPartyOut,
    many=True,
    tags=["admin: providers"],
    summary="A provider's related-party declarations",
)
def admin_related_parties(provider_id: int) -> list[Any]:
    return related.related_parties_of(db_session(), _admin_provider(provider_id).id)


@endpoint(
    bp,
    "/admin/providers/<int:provider_id>/credit",
    "GET",
    roles=ADMINS,
    response=CreditOut,
    tags=["admin: providers"],
    summary="A provider's credit score and its components",
)
def admin_credit(provider_id: int) -> dict[str, Any]:
    return credit_view(credit.credit_breakdown(db_session(), _admin_provider(provider_id).id))
