"""Named errors of the provider domain. Each has a stable ``code`` the API returns.

Shared with every domain, from the kernel: ``reason_required``
(:class:`marketplace.errors.ReasonRequired`).
"""

from __future__ import annotations

from marketplace.errors import Conflict, DomainError, PermissionDenied, ValidationFailed


class InvalidCreditCode(DomainError):
    code = "invalid_credit_code"
    status = 422
    title = "Invalid unified social credit code"


class TransitionNotAllowed(Conflict):
    code = "provider_transition_not_allowed"
    title = "Not allowed in the provider's current state"


class ApplicationIncomplete(ValidationFailed):
    """What is missing is in ``errors``; 409 because the request is fine, the file is not."""

    code = "application_incomplete"
    status = 409
    title = "The admission application is incomplete"


class ApplicationLocked(Conflict):
    code = "application_locked"
    title = "The application is under review and cannot be changed"


class InvalidQualification(ValidationFailed):
    code = "invalid_qualification"
    title = "Invalid qualification number"


class QualificationExpired(Conflict):
    code = "qualification_expired"
    title = "The qualification has expired"


class CategoryNotDeclared(Conflict):
    code = "category_not_declared"
    title = "The institution has not declared this service category"


class DuplicateQualification(Conflict):
    code = "duplicate_qualification"
    title = "The qualification number belongs to another institution"


class UnsupportedFileType(DomainError):
    code = "unsupported_file_type"
    status = 422
    title = "Only PDF, PNG and JPEG documents are accepted"


class FileExtensionMismatch(DomainError):
    code = "file_extension_mismatch"
    status = 422
    title = "The file name does not match its content"


class FileTooLarge(DomainError):
    code = "file_too_large"
    status = 413
    title = "The file is too large"


class StorageFull(DomainError):
    """The disk (or quota) holding uploads is full: the file was not saved, nothing recorded."""

    code = "storage_full"
    status = 507
    title = "The server's storage is full"


class EmptyFile(DomainError):
    code = "empty_file"
    status = 422
    title = "The file is empty"


class DocumentExpired(DomainError):
    code = "document_expired"
    status = 422
    title = "The document has already expired"


class NotInNotice(Conflict):
    code = "provider_not_in_notice"
    title = "The provider is not in public notice"


class NoticeNotOver(Conflict):
    code = "notice_not_over"
    title = "The public notice period has not ended"


class ObjectionsPending(Conflict):
    code = "objections_pending"
    title = "Objections are still open"


class ObjectionAlreadyDecided(Conflict):
    code = "objection_already_decided"
    title = "The objection was already decided"


class AccreditationLapsed(Conflict):
    code = "accreditation_lapsed"
    title = "An accreditation document has expired"


class ParticipationNotAllowed(Conflict):
    code = "participation_not_allowed"
    title = "Not allowed in the participation's current state"


class ProviderSuspended(Conflict):
    code = "provider_suspended"
    title = "The provider is suspended"


class ProviderRevoked(Conflict):
    code = "provider_revoked"
    title = "The provider's admission was revoked"


class ProviderNotAdmitted(Conflict):
    code = "provider_not_admitted"
    title = "The provider is not admitted"


class ServiceInactive(Conflict):
    code = "service_inactive"
    title = "The service is not offered at the moment"


class RelatedPartyConflict(Conflict):
    code = "related_party"
    title = "The enterprise and the provider are related parties"


class NotInProgramme(Conflict):
    code = "provider_not_in_programme"
    title = "The provider is not admitted to this programme"


class CategoryNotEligible(Conflict):
    code = "category_not_eligible"
    title = "The programme does not fund this service category"


class DuplicateRating(Conflict):
    code = "duplicate_rating"
    title = "This order was already rated"


class DuplicateDeclaration(Conflict):
    code = "duplicate_declaration"
    title = "This enterprise is already declared"


class CategoryNotAdmitted(Conflict):
    code = "category_not_admitted"
    title = "The provider was not admitted for this service category"


class ServiceCategoriesLocked(Conflict):
    code = "service_categories_locked"
    title = "Service categories cannot change after admission"


class BankAccountNameMismatch(DomainError):
    code = "bank_account_name_mismatch"
    status = 422
    title = "The account name must be the institution's registered name"


class BankChangeNotPending(Conflict):
    code = "bank_change_not_pending"
    title = "The bank account change was already decided"


class BankChangeSelfApproval(PermissionDenied):
    code = "bank_change_self_approval"
    title = "Whoever asked for a bank account change cannot decide it"


class ReviewNotPending(Conflict):
    code = "review_not_pending"
    title = "The request was already decided"


class ReviewSelfApproval(PermissionDenied):
    code = "review_self_approval"
    title = "Whoever made a change cannot review it"
