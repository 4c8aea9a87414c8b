"""Reviewers' decisions on the evidence a provider changes after its file was reviewed:
supporting documents and qualification numbers (CMA, CNAS, patent agency).

Before the review, the application is judged as a whole: its documents are accepted together
when a reviewer passes it to public notice (:func:`accept_with_application`), and its
qualification numbers change directly. Afterwards — in notice, admitted or suspended — a
provider cannot renew its own accreditation:

* a new document is *pending* until a reviewer accepts it or rejects it with a reason; only
  accepted documents keep an accreditation alive (``lapsed_accreditation``, ``flask providers
  suspend-lapsed``, admission and reinstatement), so a self-declared expiry date counts for
  nothing until checked;
* a new qualification number (or validity) is a :class:`QualificationChange` request; only
  acceptance copies it to ``provider_qualifications``, which the public pages and API show.
  Until then the number accepted before stays in force. A newer request of the same kind
  supersedes a pending one.

Maker-checker as for bank account changes (:mod:`providers.reviews`): reviewers decide, never
the person who uploaded or asked; every step leaves an audit event and the provider is told
each decision by e-mail.

Lock order: provider (``FOR NO KEY UPDATE``) → document or change row.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.enums import Role
from providers.enums import ProviderStatus, QualificationKind, ReviewAction, ReviewStatus
from providers.errors import DuplicateQualification, ReviewSelfApproval
from providers.models import Provider, ProviderDocument, ProviderQualification, QualificationChange
from providers.notices import tell_provider
from providers.reviews import Checker, decidable, stamp, supersede
from providers.rules import DOCUMENT_REVIEW, QUALIFICATION_CHANGE, clean_reason

DECISION_TEMPLATE = "provider_review_decision"
#: Statuses in which the application was already reviewed: new evidence is decided on its own.
REVIEWED_STATUSES = frozenset(
    {ProviderStatus.IN_NOTICE, ProviderStatus.ADMITTED, ProviderStatus.SUSPENDED}
)


def _self_review() -> ReviewSelfApproval:
    return ReviewSelfApproval(
        "提交人不能审核自己提交的材料 / whoever submitted it cannot review it"
    )


DOCUMENT_CHECKER = Checker(
    model=ProviderDocument,
    machine=DOCUMENT_REVIEW,
    decider=Role.REVIEWER,
    not_found="no such document / 文件不存在",
    wrong_role="材料须由审核员审核 / only a reviewer may decide on a document",
    self_review=_self_review,
    maker_attr="uploaded_by_id",
)
QUALIFICATION_CHECKER = Checker(
    model=QualificationChange,
    machine=QUALIFICATION_CHANGE,
    decider=Role.REVIEWER,
    not_found="no such qualification change / 资质变更申请不存在",
    wrong_role="资质变更须由审核员审核 / only a reviewer may decide a qualification change",
    self_review=_self_review,
)


def awaits_own_review(provider: Provider) -> bool:
    """Whether new evidence of this provider waits for a reviewer's decision of its own."""
    return provider.status in REVIEWED_STATUSES


# --------------------------------------------------------------------------- documents


def pending_documents(session: Session, provider_id: int) -> list[ProviderDocument]:
    return list(
        session.scalars(
            sa.select(ProviderDocument)
            .where(
                ProviderDocument.provider_id == provider_id,
                ProviderDocument.review_status == ReviewStatus.PENDING,
            )
            .order_by(ProviderDocument.id)
        )
    )


def accept_with_application(
    session: Session, provider: Provider, *, actor_id: int | None
) -> list[int]:
    """The reviewer passed the application: its pending documents are accepted with it (the
    caller holds the provider's lock). Returns their ids."""
    accepted = pending_documents(session, provider.id)
    for document in accepted:
        stamp(document, DOCUMENT_CHECKER, ReviewAction.APPROVE, actor_id, None)
    if accepted:
        session.flush()
        record(
            session,
            "provider.documents_accepted_with_application",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            document_ids=[d.id for d in accepted],
        )
    return [d.id for d in accepted]


def _document_label(document: ProviderDocument) -> tuple[str, str]:
    expiry = f"，有效期至 {document.expires_on}" if document.expires_on else ""
    expiry_en = f", valid until {document.expires_on}" if document.expires_on else ""
    return (
        f"{document.kind.zh}（{document.original_filename}{expiry}）",
        f"{document.kind.en} ({document.original_filename}{expiry_en})",
    )


def _decide_document(
    session: Session,
    document_id: int,
    action: ReviewAction,
    *,
    actor_id: int | None,
    reason: str | None,
) -> ProviderDocument:
    provider, document = decidable(session, DOCUMENT_CHECKER, document_id, actor_id, action)
    text = clean_reason(reason, required=action is ReviewAction.REJECT)
    stamp(document, DOCUMENT_CHECKER, action, actor_id, text)
    session.flush()
    record(
        session,
        f"provider.document_{document.review_status.value}",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        document_id=document.id,
        kind=document.kind.value,
        expires_on=document.expires_on.isoformat() if document.expires_on else None,
        reason=text,
    )
    what_zh, what_en = _document_label(document)
    tell_provider(
        session,
        provider,
        DECISION_TEMPLATE,
        accepted=document.is_accepted,
        what_zh=what_zh,
        what_en=what_en,
        reason=text or "",
        path="/provider/application/documents",
    )
    return document


def approve_document(
    session: Session, document_id: int, *, actor_id: int | None, reason: str | None = None
) -> ProviderDocument:
    """A reviewer accepts a pending document (a note is optional): from now on it counts,
    e.g. a renewed certificate keeps the accreditation alive.

    Raises NotFound, PermissionDenied (not a reviewer), ReviewSelfApproval, ReviewNotPending,
    ReasonRequired (a note that is too long).
    """
    return _decide_document(
        session, document_id, ReviewAction.APPROVE, actor_id=actor_id, reason=reason
    )


def reject_document(
    session: Session, document_id: int, *, actor_id: int | None, reason: str
) -> ProviderDocument:
    """A reviewer refuses a pending document, with a reason; it never counts.

    Raises NotFound, PermissionDenied, ReviewSelfApproval, ReviewNotPending, ReasonRequired.
    """
    return _decide_document(
        session, document_id, ReviewAction.REJECT, actor_id=actor_id, reason=reason
    )


# --------------------------------------------------------------------------- qualifications


def pending_qualification_changes(session: Session, provider_id: int) -> list[QualificationChange]:
    return list(
        session.scalars(
            sa.select(QualificationChange)
            .where(
                QualificationChange.provider_id == provider_id,
                QualificationChange.status == ReviewStatus.PENDING,
            )
            .order_by(QualificationChange.kind)
        )
    )


def qualification_changes_of(session: Session, provider_id: int) -> list[QualificationChange]:
    """The provider's requests, newest first."""
    return list(
        session.scalars(
            sa.select(QualificationChange)
            .where(QualificationChange.provider_id == provider_id)
            .order_by(QualificationChange.id.desc())
        )
    )


def _live(
    session: Session, provider_id: int, kind: QualificationKind
) -> ProviderQualification | None:
    return session.scalar(
        sa.select(ProviderQualification).where(
            ProviderQualification.provider_id == provider_id, ProviderQualification.kind == kind
        )
    )


def request_qualification_change(
    session: Session,
    provider: Provider,
    kind: QualificationKind,
    number: str,
    *,
    valid_until: date | None,
    actor_id: int | None,
    scope: str | None = None,
) -> ProviderQualification | QualificationChange:
    """Ask for the provider's ``kind`` number to become ``number`` (normalised and checked by
    ``services.set_qualification``, which holds the provider's lock). Returns the live
    qualification when nothing would change, the pending request when it already asks for
    this, else a new request (a different pending one is superseded)."""
    live = _live(session, provider.id, kind)
    if live is not None and (live.number, live.valid_until, live.scope) == (
        number,
        valid_until,
        scope,
    ):
        return live
    current = session.scalar(
        sa.select(QualificationChange).where(
            QualificationChange.provider_id == provider.id,
            QualificationChange.kind == kind,
            QualificationChange.status == ReviewStatus.PENDING,
        )
    )
    if current is not None:
        if (current.number, current.valid_until, current.scope) == (number, valid_until, scope):
            return current
        supersede(current, QUALIFICATION_CHECKER)
        # Free the one-pending-per-kind index before the new request is inserted.
        session.flush()
        record(
            session,
            "provider.qualification_change_superseded",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            change_id=current.id,
        )
    change = QualificationChange(
        provider_id=provider.id,
        kind=kind,
        number=number,
        valid_until=valid_until,
        scope=scope,
        status=ReviewStatus.PENDING,
        requested_by_id=actor_id,
    )
    session.add(change)
    session.flush()
    record(
        session,
        "provider.qualification_change_requested",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        change_id=change.id,
        kind=kind.value,
        number=number,
        valid_until=valid_until.isoformat() if valid_until else None,
        live_number=live.number if live is not None else None,
    )
    return change


def _tell_qualification(session: Session, provider: Provider, change: QualificationChange) -> None:
    validity = f"，有效期至 {change.valid_until}" if change.valid_until else ""
    validity_en = f", valid until {change.valid_until}" if change.valid_until else ""
    tell_provider(
        session,
        provider,
        DECISION_TEMPLATE,
        accepted=change.status is ReviewStatus.ACCEPTED,
        what_zh=f"{change.kind.zh}编号 {change.number}{validity}",
        what_en=f"{change.kind.en} number {change.number}{validity_en}",
        reason=change.decision_reason or "",
        path="/provider/application/qualifications",
    )


def approve_qualification_change(
    session: Session, change_id: int, *, actor_id: int | None, reason: str | None = None
) -> QualificationChange:
    """A reviewer accepts the request: the number becomes the provider's live one (shown on
    its public page).

    Raises NotFound, PermissionDenied (not a reviewer), ReviewSelfApproval, ReviewNotPending,
    DuplicateQualification (another institution registered the number since), ReasonRequired.
    """
    provider, change = decidable(
        session, QUALIFICATION_CHECKER, change_id, actor_id, ReviewAction.APPROVE
    )
    text = clean_reason(reason, required=False)
    holder = session.scalar(
        sa.select(ProviderQualification.provider_id).where(
            ProviderQualification.kind == change.kind,
            ProviderQualification.number == change.number,
        )
    )
    if holder is not None and holder != provider.id:
        raise DuplicateQualification(
            f"{change.kind.zh}编号 {change.number} 已由其他机构登记 / {change.kind.en} "
            f"{change.number} is registered by another institution",
            field="number",
        )
    live = _live(session, provider.id, change.kind)
    previous = live.number if live is not None else None
    if live is None:
        live = ProviderQualification(provider_id=provider.id, kind=change.kind)
        session.add(live)
    live.number = change.number
    live.valid_until = change.valid_until
    live.scope = change.scope
    stamp(change, QUALIFICATION_CHECKER, ReviewAction.APPROVE, actor_id, text)
    session.flush()
    session.expire(provider, ["qualifications"])
    record(
        session,
        "provider.qualification_change_accepted",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        change_id=change.id,
        kind=change.kind.value,
        number=change.number,
        previous_number=previous,
        reason=text,
    )
    _tell_qualification(session, provider, change)
    return change


def reject_qualification_change(
    session: Session, change_id: int, *, actor_id: int | None, reason: str
) -> QualificationChange:
    """A reviewer refuses the request, with a reason; the live number stays.

    Raises NotFound, PermissionDenied, ReviewSelfApproval, ReviewNotPending, ReasonRequired.
    """
    provider, change = decidable(
        session, QUALIFICATION_CHECKER, change_id, actor_id, ReviewAction.REJECT
    )
    text = clean_reason(reason, required=True)
    stamp(change, QUALIFICATION_CHECKER, ReviewAction.REJECT, actor_id, text)
    session.flush()
    record(
        session,
        "provider.qualification_change_rejected",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        change_id=change.id,
        kind=change.kind.value,
        number=change.number,
        reason=text,
    )
    _tell_qualification(session, provider, change)
    return change
