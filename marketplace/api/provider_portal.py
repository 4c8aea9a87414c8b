"""The provider's own workspace over JSON: the admission file (profile, qualifications,
documents, commitment, programmes, submission), related parties, the credit score (the
listings are in :mod:`marketplace.api.provider_listings`)."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import ValidationError

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.provider_common import (
    PROVIDER,
    document_content,
    file_view,
    own_provider,
    storage,
    today,
)
from marketplace.db import db_session
from marketplace.problems import ApiProblem
from providers import bank_changes, credit, documents, evidence, related, services
from providers.enums import QualificationKind
from providers.models import QualificationChange
from providers.presenters import commitment_view, credit_view, programme_choices
from providers.schemas import (
    BankChangeOut,
    CmaIn,
    CnasIn,
    CommitmentIn,
    CommitmentTextOut,
    CreditOut,
    DocumentContentOut,
    DocumentOut,
    DocumentUploadIn,
    Extended,
    ParticipationOut,
    PatentAgencyIn,
    ProfileIn,
    ProgrammeChoiceOut,
    ProgrammesIn,
    ProviderOut,
    QualificationChangeOut,
    QualificationSetOut,
    ReasonIn,
    RelatedPartyIn,
    RelatedPartyOut,
)


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
    return file_view(own_provider())


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
        db_session(), own_provider(), body, actor_id=api_user().id, expected_version=version
    )
    return file_view(provider)


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
    return bank_changes.changes_of(db_session(), own_provider().id)


def _kind(kind: str) -> QualificationKind:
    try:
        return QualificationKind(kind)
    except ValueError:
        raise ApiProblem(404, "not_found", "Not found", f"no qualification kind {kind!r}") from None


def _set_qualification(kind: QualificationKind, body: dict[str, Any]) -> Extended:
    result = services.set_qualification(
        db_session(),
        own_provider(),
        kind,
        body["number"],
        valid_until=body["valid_until"],
        actor_id=api_user().id,
        today=today(),
        scope=body["scope"],
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
    return evidence.qualification_changes_of(db_session(), own_provider().id)


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
    services.remove_qualification(db_session(), own_provider(), _kind(kind), actor_id=api_user().id)


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
    return documents.documents_of(db_session(), own_provider().id)


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
        storage(),
        own_provider(),
        kind=fields["kind"],
        filename=upload.filename or "",
        stream=upload.stream,
        expires_on=fields["expires_on"],
        actor_id=api_user().id,
        today=today(),
    )


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
    return document_content(documents.get_document(db_session(), own_provider().id, document_id))


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
        db_session(), storage(), own_provider(), document_id, actor_id=api_user().id
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
    return commitment_view(db_session(), own_provider().id)


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
    provider = own_provider()
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
    return programme_choices(db_session(), own_provider(), today())


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
        db_session(), own_provider(), body["programme_ids"], actor_id=api_user().id, today=today()
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
        db_session(), own_provider(), actor_id=api_user().id, today=today()
    )
    return file_view(provider)


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
    return related.related_parties_of(db_session(), own_provider().id)


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
        db_session(), own_provider(), actor_id=api_user().id, **body
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
        db_session(), own_provider(), declaration_id, reason=body["reason"], actor_id=api_user().id
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
    return credit_view(credit.credit_breakdown(db_session(), own_provider().id))
