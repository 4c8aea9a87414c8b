"""Providers over the JSON API: the public catalogue and notice, the provider's own admission
file and services, and the administrators' review — everything the pages do, per role."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import request
from marshmallow import ValidationError

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.extensions import limiter
from marketplace.pagination import Page, PageQuerySchema, paginate
from marketplace.problems import ApiProblem
from providers import (
    admission,
    bank_changes,
    catalogue,
    credit,
    documents,
    evidence,
    related,
    services,
)
from providers.models import (
    AssessorKind,
    BankAccountChange,
    Objection,
    ParticipationStatus,
    Provider,
    ProviderDocument,
    QualificationChange,
    QualificationKind,
    Rating,
    RelatedPartyWithdrawal,
    Service,
)
from providers.presenters import (
    commitment_view,
    credit_view,
    instrument_input,
    programme_choices,
    provider_file,
    service_input,
)
from providers.schemas import (
    AssessmentIn,
    AssessmentOut,
    BankChangeListQuery,
    BankChangeOut,
    CmaIn,
    CnasIn,
    CommitmentIn,
    CommitmentTextOut,
    CreditEventOut,
    CreditOut,
    DocumentContentOut,
    DocumentOut,
    DocumentUploadIn,
    Extended,
    InstrumentServiceIn,
    InstrumentServiceUpdateIn,
    NoteIn,
    NoticeOut,
    ObjectionIn,
    ObjectionListQuery,
    ObjectionOut,
    ObjectionReceiptOut,
    ParticipationDecisionIn,
    ParticipationOut,
    PatentAgencyIn,
    ProfileIn,
    ProgrammeChoiceOut,
    ProgrammesIn,
    ProviderListQuery,
    ProviderOut,
    ProviderProfileOut,
    ProviderSummaryOut,
    QualificationChangeOut,
    QualificationSetOut,
    RatingOut,
    ReasonIn,
    RelatedPartyIn,
    RelatedPartyOut,
    RelatedPartyWithdrawalOut,
    ReviewListQuery,
    ServiceActiveIn,
    ServiceIn,
    ServiceOut,
    ServiceSearchQuery,
    ServiceUpdateIn,
    ThirdPartyAssessmentIn,
)
from providers.search import SearchCriteria, public_provider, public_service, search_services

PROVIDER = [Role.PROVIDER]
#: Reviewers decide admission; system administrators may read but not decide.
REVIEWERS = [Role.REVIEWER]
ADMINS = sorted(ADMIN_ROLES)
#: Settlement bank-account changes after admission are approved by finance (maker-checker).
BANK_DECIDERS = [Role.FINANCE]


def _today() -> date:
    return services.local_today()


def _storage() -> documents.DocumentStorage:
    return documents.DocumentStorage.from_settings(current_settings())


def _own_provider(*, lock: bool = False) -> Provider:
    user = api_user()
    if user.provider_id is None:  # pragma: no cover - the users CHECK pairs role and provider
        raise ApiProblem(403, "forbidden", "Not allowed", "your account has no institution")
    return services.get_provider(db_session(), user.provider_id, lock=lock)


def _file(provider: Provider) -> Extended:
    return provider_file(db_session(), provider, _today())


# --------------------------------------------------------------------------- public


@endpoint(
    bp,
    "/catalogue/services",
    "GET",
    roles=None,
    query=ServiceSearchQuery,
    response=ServiceOut,
    paginated=True,
    tags=["catalogue"],
    summary="Search the service catalogue (Chinese keywords work; filters, sorting, cursor)",
)
def search_catalogue(query: dict[str, Any]) -> Page:
    """Keyword search over titles, providers, categories, descriptions and instruments. Terms
    shorter than three characters (检测, 专利) match as substrings; a service matches when it
    contains every term. Only admitted providers' active services are listed."""
    criteria = SearchCriteria(
        q=query["q"],
        category=query["category"],
        institution_type=query["institution_type"],
        region=query["region"],
        min_price_fen=query["min_price_fen"],
        max_price_fen=query["max_price_fen"],
        min_rating=query["min_rating"],
        programme_id=query["programme_id"],
        provider_id=query["provider_id"],
        sort=query["sort"],
    )
    page = search_services(db_session(), criteria, cursor=query["cursor"], limit=query["limit"])
    return Page(items=page.items, next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/catalogue/services/<int:service_id>",
    "GET",
    roles=None,
    response=ServiceOut,
    tags=["catalogue"],
    summary="One listed service",
)
def catalogue_service(service_id: int) -> Service:
    return public_service(db_session(), service_id)


@endpoint(
    bp,
    "/catalogue/providers/<int:provider_id>",
    "GET",
    roles=None,
    response=ProviderProfileOut,
    tags=["catalogue"],
    summary="An admitted provider's page: facts, programmes and credit score",
)
def catalogue_provider(provider_id: int) -> dict[str, Any]:
    session = db_session()
    provider = public_provider(session, provider_id)
    programmes = [
        p
        for p in services.participations(session, provider.id)
        if p.status is ParticipationStatus.ADMITTED
    ]
    return {
        "provider": provider,
        "programmes": programmes,
        "credit": credit_view(credit.credit_breakdown(session, provider.id)),
    }


@endpoint(
    bp,
    "/catalogue/providers/<int:provider_id>/ratings",
    "GET",
    roles=None,
    query=PageQuerySchema,
    response=RatingOut,
    paginated=True,
    tags=["catalogue"],
    summary="Ratings of an admitted provider's services (newest first)",
)
def catalogue_provider_ratings(provider_id: int, query: dict[str, Any]) -> Page:
    session = db_session()
    public_provider(session, provider_id)
    return paginate(
        session,
        sa.select(Rating).where(Rating.provider_id == provider_id),
        sort_column=Rating.id,
        id_column=Rating.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/catalogue/notices",
    "GET",
    roles=None,
    response=NoticeOut,
    many=True,
    tags=["catalogue"],
    summary="Providers in public notice (公示) today; anyone may object",
)
def notices() -> list[Any]:
    session = db_session()
    return [
        Extended(p, commitment_signed=services.current_commitment(session, p.id) is not None)
        for p in admission.in_notice(session, _today())
    ]


@endpoint(
    bp,
    "/catalogue/notices/<int:provider_id>/objections",
    "POST",
    roles=None,
    body=ObjectionIn,
    response=ObjectionReceiptOut,
    status=201,
    errors=[409],
    tags=["catalogue"],
    summary="File an objection against a provider in public notice (no sign-in needed)",
)
@limiter.limit("10 per hour")
def file_objection(provider_id: int, body: dict[str, Any]) -> Objection:
    return admission.file_objection(db_session(), provider_id, today=_today(), **body)


# --------------------------------------------------------------------------- provider portal


@endpoint(
    bp,
    "/provider/application",
    "GET",
    roles=PROVIDER,
    response=ProviderOut,
    tags=["provider portal"],
    summary="Your admission file: status, history, programmes and what is still missing",
)
def my_application() -> Extended:
    return _file(_own_provider())


@endpoint(
    bp,
    "/provider/application",
    "PATCH",
    roles=PROVIDER,
    body=ProfileIn,
    response=ProviderOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Change fields of your admission file (send the version you read)",
    description=(
        "Before admission every field changes at once. Once admitted (or suspended): the "
        "accreditation level (application_locked) and the service categories "
        "(service_categories_locked) cannot change, and a new settlement account (bank_*) "
        "does not replace the live one: it becomes `pending_bank_change`, the live account "
        "with the fields you sent replaced, which a finance officer approves or rejects; a "
        "newer request replaces a pending one. The account must be held in the registered "
        "name (bank_account_name_mismatch)."
    ),
)
def update_my_application(body: dict[str, Any]) -> Extended:
    version = body.pop("version")
    provider = services.update_profile(
        db_session(), _own_provider(), body, actor_id=api_user().id, expected_version=version
    )
    return _file(provider)


@endpoint(
    bp,
    "/provider/application/bank-changes",
    "GET",
    roles=PROVIDER,
    response=BankChangeOut,
    many=True,
    tags=["provider portal"],
    summary="Your settlement account change requests and their decisions, newest first",
)
def my_bank_changes() -> list[Any]:
    return bank_changes.changes_of(db_session(), _own_provider().id)


def _kind(kind: str) -> QualificationKind:
    try:
        return QualificationKind(kind)
    except ValueError:
        raise ApiProblem(404, "not_found", "Not found", f"no qualification kind {kind!r}") from None


def _set_qualification(kind: QualificationKind, body: dict[str, Any]) -> Extended:
    result = services.set_qualification(
        db_session(),
        _own_provider(),
        kind,
        body["number"],
        valid_until=body["valid_until"],
        actor_id=api_user().id,
        today=_today(),
    )
    if isinstance(result, QualificationChange):
        return Extended(result, in_force=False, change=result)
    return Extended(result, in_force=True, change=None)


_QUALIFICATION_AFTER_ADMISSION = (
    "Before admission the number is set at once (in_force: true). Once admitted or suspended "
    "it only becomes a request a reviewer accepts or rejects (in_force: false, `change`); the "
    "number accepted before stays the live one, shown on the public pages, until then. A "
    "newer request of the same kind replaces a pending one."
)


@endpoint(
    bp,
    "/provider/application/qualifications/cma",
    "PUT",
    roles=PROVIDER,
    body=CmaIn,
    response=QualificationSetOut,
    errors=[409],
    idempotent=False,
    tags=["provider portal"],
    summary="Set your CMA number (检验检测机构资质认定, 12 digits)",
    description=_QUALIFICATION_AFTER_ADMISSION,
)
def set_cma(body: dict[str, Any]) -> Any:
    return _set_qualification(QualificationKind.CMA, body)


@endpoint(
    bp,
    "/provider/application/qualifications/cnas",
    "PUT",
    roles=PROVIDER,
    body=CnasIn,
    response=QualificationSetOut,
    errors=[409],
    idempotent=False,
    tags=["provider portal"],
    summary="Set your CNAS accreditation number (CNAS L1234 / CNAS I1234)",
    description=_QUALIFICATION_AFTER_ADMISSION,
)
def set_cnas(body: dict[str, Any]) -> Any:
    return _set_qualification(QualificationKind.CNAS, body)


@endpoint(
    bp,
    "/provider/application/qualifications/patent_agency",
    "PUT",
    roles=PROVIDER,
    body=PatentAgencyIn,
    response=QualificationSetOut,
    errors=[409],
    idempotent=False,
    tags=["provider portal"],
    summary="Set your patent agency licence code (5 digits)",
    description=_QUALIFICATION_AFTER_ADMISSION,
)
def set_patent_agency(body: dict[str, Any]) -> Any:
    return _set_qualification(QualificationKind.PATENT_AGENCY, body)


@endpoint(
    bp,
    "/provider/application/qualification-changes",
    "GET",
    roles=PROVIDER,
    response=QualificationChangeOut,
    many=True,
    tags=["provider portal"],
    summary="Your qualification change requests (after admission) and their decisions, newest first",
)
def my_qualification_changes() -> list[Any]:
    return evidence.qualification_changes_of(db_session(), _own_provider().id)


@endpoint(
    bp,
    "/provider/application/qualifications/<kind>",
    "DELETE",
    roles=PROVIDER,
    errors=[409],
    idempotent=False,
    tags=["provider portal"],
    summary="Remove a qualification number (draft or rejected applications only)",
)
def remove_qualification(kind: str) -> None:
    services.remove_qualification(
        db_session(), _own_provider(), _kind(kind), actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/application/documents",
    "GET",
    roles=PROVIDER,
    response=DocumentOut,
    many=True,
    tags=["provider portal"],
    summary="Your supporting documents",
)
def my_documents() -> list[Any]:
    return documents.documents_of(db_session(), _own_provider().id)


@endpoint(
    bp,
    "/provider/application/documents",
    "POST",
    roles=PROVIDER,
    response=DocumentOut,
    status=201,
    errors=[409, 413, 415],
    tags=["provider portal"],
    summary="Upload a supporting document (multipart/form-data: kind, expires_on, file)",
    description=(
        "Send multipart/form-data with the fields `kind` (business_licence, accreditation, "
        "cma_certificate, cnas_certificate, patent_agency_licence, other), `expires_on` "
        "(YYYY-MM-DD; required for the accreditation documents: accreditation, "
        "cma_certificate, cnas_certificate, patent_agency_licence) and the file in `file`. "
        "Only PDF, PNG and JPEG are accepted, judged by content; the name's extension must "
        "agree (unsupported_file_type, file_extension_mismatch); at most MAX_UPLOAD_BYTES "
        "(file_too_large). The document is `review_status: pending`: an application's "
        "documents are accepted with it when a reviewer passes it to public notice; one "
        "uploaded later (in notice, admitted, suspended) counts only once a reviewer accepts "
        "it — until then the documents accepted before stay in force."
    ),
)
def upload_document() -> Any:
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiProblem(
            415,
            "unsupported_media_type",
            "Send multipart/form-data",
            "upload the file as multipart",
        )
    try:
        fields = DocumentUploadIn().load(request.form.to_dict())
    except ValidationError as exc:
        raise ApiProblem(
            422,
            "validation_failed",
            "The input is not valid",
            "the form has invalid fields",
            errors=exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages},
        ) from None
    upload = request.files.get("file")
    if upload is None:
        raise ApiProblem(
            422,
            "validation_failed",
            "The input is not valid",
            "no file sent",
            errors={"file": ["Missing data for required field."]},
        )
    return documents.upload_document(
        db_session(),
        _storage(),
        _own_provider(),
        kind=fields["kind"],
        filename=upload.filename or "",
        stream=upload.stream,
        expires_on=fields["expires_on"],
        actor_id=api_user().id,
        today=_today(),
    )


def _content(document: Any) -> Extended:
    data = _storage().path_for(document.stored_name).read_bytes()
    return Extended(document, content_base64=base64.b64encode(data).decode("ascii"))


@endpoint(
    bp,
    "/provider/application/documents/<int:document_id>",
    "GET",
    roles=PROVIDER,
    response=DocumentContentOut,
    tags=["provider portal"],
    summary="One of your documents, with its content (base64)",
)
def my_document(document_id: int) -> Extended:
    return _content(documents.get_document(db_session(), _own_provider().id, document_id))


@endpoint(
    bp,
    "/provider/application/documents/<int:document_id>",
    "DELETE",
    roles=PROVIDER,
    errors=[409],
    idempotent=False,
    tags=["provider portal"],
    summary="Delete a document (draft or rejected applications only)",
)
def delete_my_document(document_id: int) -> None:
    documents.delete_document(
        db_session(), _storage(), _own_provider(), document_id, actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/application/commitment",
    "GET",
    roles=PROVIDER,
    response=CommitmentTextOut,
    tags=["provider portal"],
    summary="The credit commitment (信用承诺书) text and whether you signed it",
)
def my_commitment() -> dict[str, Any]:
    return commitment_view(db_session(), _own_provider().id)


@endpoint(
    bp,
    "/provider/application/commitment",
    "POST",
    roles=PROVIDER,
    body=CommitmentIn,
    response=CommitmentTextOut,
    status=201,
    tags=["provider portal"],
    summary="Sign the current credit commitment",
)
def sign_commitment(body: dict[str, Any]) -> dict[str, Any]:
    session = db_session()
    provider = _own_provider()
    services.sign_commitment(session, provider, actor_id=api_user().id, **body)
    return commitment_view(session, provider.id)


@endpoint(
    bp,
    "/provider/application/programmes",
    "GET",
    roles=PROVIDER,
    response=ProgrammeChoiceOut,
    many=True,
    tags=["provider portal"],
    summary="Programmes open to providers, with your standing in each",
)
def my_programmes() -> list[dict[str, Any]]:
    return programme_choices(db_session(), _own_provider(), _today())


@endpoint(
    bp,
    "/provider/application/programmes",
    "PUT",
    roles=PROVIDER,
    body=ProgrammesIn,
    response=ParticipationOut,
    many=True,
    errors=[404, 409],
    idempotent=False,
    tags=["provider portal"],
    summary="Choose the programmes you apply to (others are withdrawn)",
)
def choose_programmes(body: dict[str, Any]) -> list[Any]:
    return services.choose_programmes(
        db_session(),
        _own_provider(),
        body["programme_ids"],
        actor_id=api_user().id,
        today=_today(),
    )


@endpoint(
    bp,
    "/provider/application/submit",
    "POST",
    roles=PROVIDER,
    response=ProviderOut,
    errors=[409],
    tags=["provider portal"],
    summary="Submit (or re-submit) the application; application_incomplete lists what is missing",
)
def submit_application() -> Extended:
    provider = services.submit_application(
        db_session(), _own_provider(), actor_id=api_user().id, today=_today()
    )
    return _file(provider)


@endpoint(
    bp,
    "/provider/services",
    "GET",
    roles=PROVIDER,
    query=PageQuerySchema,
    response=ServiceOut,
    paginated=True,
    tags=["provider portal"],
    summary="Your services, listed or not (newest first)",
)
def my_services(query: dict[str, Any]) -> Page:
    return paginate(
        db_session(),
        sa.select(Service).where(Service.provider_id == _own_provider().id),
        sort_column=Service.id,
        id_column=Service.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/provider/services",
    "POST",
    roles=PROVIDER,
    body=ServiceIn,
    response=ServiceOut,
    status=201,
    errors=[409],
    tags=["provider portal"],
    summary="Add a service: a price per unit, or price_fen null for a quote on request",
)
def create_service(body: dict[str, Any]) -> Service:
    provider = _own_provider()
    return catalogue.create_service(
        db_session(), provider, service_input(body), actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/services/<int:service_id>",
    "GET",
    roles=PROVIDER,
    response=ServiceOut,
    tags=["provider portal"],
    summary="One of your services",
)
def my_service(service_id: int) -> Service:
    return catalogue.get_service(db_session(), service_id, provider_id=_own_provider().id)


@endpoint(
    bp,
    "/provider/services/<int:service_id>",
    "PUT",
    roles=PROVIDER,
    body=ServiceUpdateIn,
    response=ServiceOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Replace a service's details (send the version you read)",
)
def update_service(service_id: int, body: dict[str, Any]) -> Service:
    version = body.pop("version")
    return catalogue.update_service(
        db_session(),
        _own_provider(),
        service_id,
        service_input(body),
        actor_id=api_user().id,
        expected_version=version,
    )


@endpoint(
    bp,
    "/provider/instruments",
    "POST",
    roles=PROVIDER,
    body=InstrumentServiceIn,
    response=ServiceOut,
    status=201,
    errors=[409],
    tags=["provider portal"],
    summary="List an instrument for sharing (instrument model, location, hourly rate)",
)
def create_instrument(body: dict[str, Any]) -> Service:
    return catalogue.create_service(
        db_session(), _own_provider(), instrument_input(body), actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/instruments/<int:service_id>",
    "PUT",
    roles=PROVIDER,
    body=InstrumentServiceUpdateIn,
    response=ServiceOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Replace an instrument listing (send the version you read)",
)
def update_instrument(service_id: int, body: dict[str, Any]) -> Service:
    version = body.pop("version")
    return catalogue.update_service(
        db_session(),
        _own_provider(),
        service_id,
        instrument_input(body),
        actor_id=api_user().id,
        expected_version=version,
    )


@endpoint(
    bp,
    "/provider/services/<int:service_id>/active",
    "PUT",
    roles=PROVIDER,
    body=ServiceActiveIn,
    response=ServiceOut,
    errors=[409, 412],
    idempotent=False,
    tags=["provider portal"],
    summary="Offer (true) or withdraw (false) a service",
)
def set_service_active(service_id: int, body: dict[str, Any]) -> Service:
    return catalogue.set_service_active(
        db_session(),
        _own_provider(),
        service_id,
        body["is_active"],
        actor_id=api_user().id,
        expected_version=body["version"],
    )


@endpoint(
    bp,
    "/provider/related-parties",
    "GET",
    roles=PROVIDER,
    response=RelatedPartyOut,
    many=True,
    tags=["provider portal"],
    summary="Your related-party declarations, withdrawn ones included",
)
def my_related_parties() -> list[Any]:
    return related.related_parties_of(db_session(), _own_provider().id)


@endpoint(
    bp,
    "/provider/related-parties",
    "POST",
    roles=PROVIDER,
    body=RelatedPartyIn,
    response=RelatedPartyOut,
    status=201,
    errors=[409],
    tags=["provider portal"],
    summary="Declare an affiliated enterprise; orders between you will be refused",
)
def declare_related_party(body: dict[str, Any]) -> Any:
    return related.declare_related_party(
        db_session(), _own_provider(), actor_id=api_user().id, **body
    )


@endpoint(
    bp,
    "/provider/related-parties/<int:declaration_id>/withdraw",
    "POST",
    roles=PROVIDER,
    body=ReasonIn,
    response=RelatedPartyOut,
    tags=["provider portal"],
    summary="Withdraw a declaration, with a reason (it stays on record)",
    description=(
        "A draft (or rejected) application's declaration ends at once (`withdrawn_at`). Once "
        "the application was submitted the withdrawal is a request (`pending_withdrawal`) a "
        "reviewer accepts or rejects; until then the declaration stays in force and orders "
        "between the two stay refused. A different reason replaces a pending request."
    ),
)
def withdraw_related_party(declaration_id: int, body: dict[str, Any]) -> Any:
    return related.withdraw_related_party(
        db_session(), _own_provider(), declaration_id, reason=body["reason"], actor_id=api_user().id
    )


@endpoint(
    bp,
    "/provider/credit",
    "GET",
    roles=PROVIDER,
    response=CreditOut,
    tags=["provider portal"],
    summary="Your credit score and how it is made up",
)
def my_credit() -> dict[str, Any]:
    return credit_view(credit.credit_breakdown(db_session(), _own_provider().id))


# --------------------------------------------------------------------------- administration


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
    return _file(_admin_provider(provider_id))


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
    return _content(documents.get_document(db_session(), provider_id, document_id))


def _decision(action: str, provider_id: int, reason: str | None) -> Extended:
    session = db_session()
    provider = _admin_provider(provider_id)
    actor = api_user().id
    today = _today()
    if action == "pass-to-notice":
        provider = admission.pass_to_notice(session, provider, actor_id=actor, today=today)
    elif action == "admit":
        provider = admission.admit(session, provider, actor_id=actor, today=today)
    elif action == "reject":
        provider = admission.reject(session, provider, reason=reason or "", actor_id=actor)
    elif action == "suspend":
        provider = admission.suspend(session, provider, reason=reason or "", actor_id=actor)
    elif action == "reinstate":
        provider = admission.reinstate(
            session, provider, reason=reason or "", actor_id=actor, today=today
        )
    else:
        provider = admission.revoke(session, provider, reason=reason or "", actor_id=actor)
    return _file(provider)


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
    "/admin/bank-changes",
    "GET",
    roles=ADMINS,
    query=BankChangeListQuery,
    response=BankChangeOut,
    paginated=True,
    tags=["admin: providers"],
    summary="Settlement account change requests (the finance queue: status=pending)",
)
def admin_bank_changes(query: dict[str, Any]) -> Page:
    stmt = sa.select(BankAccountChange)
    if query["status"] is not None:
        stmt = stmt.where(BankAccountChange.status == query["status"])
    if query["provider_id"] is not None:
        stmt = stmt.where(BankAccountChange.provider_id == query["provider_id"])
    return paginate(
        db_session(),
        stmt,
        sort_column=BankAccountChange.id,
        id_column=BankAccountChange.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/admin/bank-changes/<int:change_id>/approve",
    "POST",
    roles=BANK_DECIDERS,
    body=ReasonIn,
    response=BankChangeOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Approve a settlement account change: payouts use the new account from now on",
    description=(
        "Finance officers only, never the person who asked (bank_change_self_approval). The "
        "reason records how the account was checked (e.g. the account opening licence). A "
        "request already decided or superseded answers bank_change_not_pending."
    ),
)
def admin_approve_bank_change(change_id: int, body: dict[str, Any]) -> BankAccountChange:
    return bank_changes.approve(
        db_session(), change_id, actor_id=api_user().id, reason=body["reason"]
    )


@endpoint(
    bp,
    "/admin/bank-changes/<int:change_id>/reject",
    "POST",
    roles=BANK_DECIDERS,
    body=ReasonIn,
    response=BankChangeOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Reject a settlement account change, with a reason (the live account stays)",
)
def admin_reject_bank_change(change_id: int, body: dict[str, Any]) -> BankAccountChange:
    return bank_changes.reject(
        db_session(), change_id, actor_id=api_user().id, reason=body["reason"]
    )


def _review_page(model: Any, status_column: Any, query: dict[str, Any]) -> Page:
    stmt = sa.select(model)
    if query["status"] is not None:
        stmt = stmt.where(status_column == query["status"])
    if query["provider_id"] is not None:
        stmt = stmt.where(model.provider_id == query["provider_id"])
    return paginate(
        db_session(),
        stmt,
        sort_column=model.id,
        id_column=model.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/admin/documents",
    "GET",
    roles=ADMINS,
    query=ReviewListQuery,
    response=DocumentOut,
    paginated=True,
    tags=["admin: providers"],
    summary="Providers' supporting documents by review status (the reviewers' queue: status=pending)",
)
def admin_review_documents(query: dict[str, Any]) -> Page:
    return _review_page(ProviderDocument, ProviderDocument.review_status, query)


@endpoint(
    bp,
    "/admin/documents/<int:document_id>/approve",
    "POST",
    roles=REVIEWERS,
    body=NoteIn,
    response=DocumentOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Accept a pending document: from now on it counts (e.g. a renewed certificate)",
    description=(
        "Reviewers only, never whoever uploaded it (review_self_approval); the note is "
        "optional. A document already decided answers review_not_pending."
    ),
)
def admin_approve_document(document_id: int, body: dict[str, Any]) -> Any:
    return evidence.approve_document(
        db_session(), document_id, actor_id=api_user().id, reason=body["reason"]
    )


@endpoint(
    bp,
    "/admin/documents/<int:document_id>/reject",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=DocumentOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Reject a pending document, with a reason (it never counts)",
)
def admin_reject_document(document_id: int, body: dict[str, Any]) -> Any:
    return evidence.reject_document(
        db_session(), document_id, actor_id=api_user().id, reason=body["reason"]
    )


@endpoint(
    bp,
    "/admin/qualification-changes",
    "GET",
    roles=ADMINS,
    query=ReviewListQuery,
    response=QualificationChangeOut,
    paginated=True,
    tags=["admin: providers"],
    summary="Qualification number changes asked for after admission (the queue: status=pending)",
)
def admin_qualification_changes(query: dict[str, Any]) -> Page:
    return _review_page(QualificationChange, QualificationChange.status, query)


@endpoint(
    bp,
    "/admin/qualification-changes/<int:change_id>/approve",
    "POST",
    roles=REVIEWERS,
    body=NoteIn,
    response=QualificationChangeOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Accept a qualification change: the number becomes the live one, shown publicly",
    description=(
        "Reviewers only, never whoever asked (review_self_approval); the note is optional. "
        "A number another institution registered since answers duplicate_qualification, a "
        "request already decided or superseded review_not_pending."
    ),
)
def admin_approve_qualification_change(change_id: int, body: dict[str, Any]) -> Any:
    return evidence.approve_qualification_change(
        db_session(), change_id, actor_id=api_user().id, reason=body["reason"]
    )


@endpoint(
    bp,
    "/admin/qualification-changes/<int:change_id>/reject",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=QualificationChangeOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Reject a qualification change, with a reason (the live number stays)",
)
def admin_reject_qualification_change(change_id: int, body: dict[str, Any]) -> Any:
    return evidence.reject_qualification_change(
        db_session(), change_id, actor_id=api_user().id, reason=body["reason"]
    )


@endpoint(
    bp,
    "/admin/related-party-withdrawals",
    "GET",
    roles=ADMINS,
    query=ReviewListQuery,
    response=RelatedPartyWithdrawalOut,
    paginated=True,
    tags=["admin: providers"],
    summary="Providers' requests to end related-party declarations (the queue: status=pending)",
)
def admin_related_party_withdrawals(query: dict[str, Any]) -> Page:
    return _review_page(RelatedPartyWithdrawal, RelatedPartyWithdrawal.status, query)


@endpoint(
    bp,
    "/admin/related-party-withdrawals/<int:withdrawal_id>/approve",
    "POST",
    roles=REVIEWERS,
    body=NoteIn,
    response=RelatedPartyWithdrawalOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Accept a withdrawal: the declaration ends now (orders between the two are allowed)",
    description=(
        "Reviewers only, never whoever asked (review_self_approval); the note is optional. "
        "A request already decided or superseded answers review_not_pending."
    ),
)
def admin_approve_withdrawal(withdrawal_id: int, body: dict[str, Any]) -> Any:
    return related.approve_withdrawal(
        db_session(), withdrawal_id, actor_id=api_user().id, reason=body["reason"]
    )


@endpoint(
    bp,
    "/admin/related-party-withdrawals/<int:withdrawal_id>/reject",
    "POST",
    roles=REVIEWERS,
    body=ReasonIn,
    response=RelatedPartyWithdrawalOut,
    errors=[403, 409],
    tags=["admin: providers"],
    summary="Reject a withdrawal, with a reason (the declaration stays in force)",
)
def admin_reject_withdrawal(withdrawal_id: int, body: dict[str, Any]) -> Any:
    return related.reject_withdrawal(
        db_session(), withdrawal_id, actor_id=api_user().id, reason=body["reason"]
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
