"""Maker-checker decisions on what an admitted provider changes, over JSON: settlement bank
accounts (finance), documents and qualification numbers, related-party withdrawals
(reviewers)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.provider_common import ADMINS, BANK_DECIDERS, REVIEWERS
from marketplace.db import db_session
from marketplace.pagination import Page, paginate
from providers import bank_changes, evidence, related
from providers.models import (
    BankAccountChange,
    ProviderDocument,
    QualificationChange,
    RelatedPartyWithdrawal,
)
from providers.schemas import (
    BankChangeListQuery,
    BankChangeOut,
    DocumentOut,
    NoteIn,
    QualificationChangeOut,
    ReasonIn,
    RelatedPartyWithdrawalOut,
    ReviewListQuery,
)


@endpoint(
    bp,
    "/admin/bank-changes",
    "GET",
    scope="settlement:read",
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
    scope="settlement:write",
    step_up=True,
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
    scope="settlement:write",
    step_up=True,
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
