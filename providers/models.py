"""Provider-domain tables: the institution and its admission file, the service catalogue,
ratings and assessments, credit events and related-party declarations.

Every state change leaves a row in a history table (who, why, when); rows that record
something that happened (ratings, credit events, history) are only inserted. An assessment is
replaced by a newer one of the same evaluator and period (the audit trail keeps the old one).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from marketplace.auth.models import User
from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from marketplace.enums import InstitutionType, ServiceCategory
from providers.enums import (
    AccreditationLevel,
    AssessorKind,
    BankChangeStatus,
    CreditEventKind,
    DocumentKind,
    ObjectionStatus,
    ParticipationStatus,
    PricingMode,
    ProviderAction,
    ProviderStatus,
    QualificationKind,
    RelationKind,
    ReviewStatus,
)

if TYPE_CHECKING:
    from vouchers.models import Programme


def _actor_fk() -> Mapped[int | None]:
    return mapped_column(BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"))


def _provider_fk() -> Mapped[int]:
    return mapped_column(BigInt, sa.ForeignKey("providers.id", ondelete="CASCADE"), index=True)


class Provider(IdMixin, TimestampMixin, Base):
    """A service institution that may sell services against vouchers."""

    __tablename__ = "providers"

    name: Mapped[str] = mapped_column(sa.String(200))
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    region_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    institution_type: Mapped[InstitutionType] = enum_column(InstitutionType, "institution_type")
    status: Mapped[ProviderStatus] = enum_column(
        ProviderStatus, "status", default=ProviderStatus.PENDING
    )
    contact_name: Mapped[str] = mapped_column(sa.String(100))
    contact_phone: Mapped[str] = mapped_column(sa.String(40))
    contact_email: Mapped[str] = mapped_column(sa.String(254))

    # The admission file (added by migration 0003; nullable until the provider fills it in).
    accreditation_level: Mapped[AccreditationLevel | None] = enum_column(
        AccreditationLevel, "accreditation_level"
    )
    description: Mapped[str | None] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.String(300))
    website: Mapped[str | None] = mapped_column(sa.String(300))
    service_categories: Mapped[list[str]] = mapped_column(
        sa.JSON, default=list, server_default=sa.text("'[]'")
    )
    bank_account_name: Mapped[str | None] = mapped_column(sa.String(200))
    bank_name: Mapped[str | None] = mapped_column(sa.String(200))
    bank_account_number: Mapped[str | None] = mapped_column(sa.String(40))
    # The legal representative (related-party detection, marketplace.parties): the identity
    # number only as a keyed hash and its masked form; ``address`` is the registered address.
    legal_rep_name: Mapped[str | None] = mapped_column(sa.String(100))
    legal_rep_id_hash: Mapped[str | None] = mapped_column(sa.String(64))
    legal_rep_id_masked: Mapped[str | None] = mapped_column(sa.String(32))
    submitted_at: Mapped[datetime | None]
    notice_starts_on: Mapped[date | None] = mapped_column(sa.Date)
    notice_ends_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    admitted_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    status_changed_at: Mapped[datetime | None]
    #: Cached result of providers.credit.compute_credit_score, refreshed on every input change.
    credit_score: Mapped[int] = mapped_column(sa.Integer, default=75, server_default=sa.text("75"))
    #: Optimistic concurrency for edits of the admission file (If-Match / form field).
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default=sa.text("1"))

    qualifications: Mapped[list[ProviderQualification]] = relationship(
        back_populates="provider", order_by="ProviderQualification.kind"
    )
    documents: Mapped[list[ProviderDocument]] = relationship(
        back_populates="provider", order_by="ProviderDocument.id"
    )
    history: Mapped[list[ProviderStatusChange]] = relationship(
        back_populates="provider", order_by="ProviderStatusChange.id"
    )
    participations: Mapped[list[ProgrammeParticipation]] = relationship(
        back_populates="provider", order_by="ProgrammeParticipation.programme_id"
    )
    #: The kernel's User knows only ``provider_id``; the provider domain adds the navigation
    #: both ways (``provider.users``, ``user.provider``).
    users: Mapped[list[User]] = relationship(
        backref=backref("provider", lazy="joined"), order_by=User.id
    )

    __table_args__ = (
        sa.CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        sa.CheckConstraint("credit_score >= 0 AND credit_score <= 100", name="credit_score_range"),
    )

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None

    @property
    def categories(self) -> list[ServiceCategory]:
        return [ServiceCategory(c) for c in self.service_categories or []]


class ProviderQualification(IdMixin, TimestampMixin, Base):
    """A qualification number: CMA / CNAS for laboratories, the patent agency licence."""

    __tablename__ = "provider_qualifications"

    provider_id: Mapped[int] = _provider_fk()
    kind: Mapped[QualificationKind] = enum_column(QualificationKind, "kind")
    number: Mapped[str] = mapped_column(sa.String(40))
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    #: What the accreditation covers (test items, standards), as on the certificate; the
    #: catalogue search matches it (providers.search).
    scope: Mapped[str | None] = mapped_column(sa.Text)

    provider: Mapped[Provider] = relationship(back_populates="qualifications")

    # One number belongs to one institution: a second claim on it is refused.
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "kind"),
        sa.UniqueConstraint("kind", "number"),
    )


class QualificationChange(IdMixin, Base):
    """A qualification number an admitted (or suspended) provider asks to set: a new number,
    a new kind, or a new validity. Maker-checker like :class:`BankAccountChange`: a reviewer
    accepts it — only then is it copied to ``provider_qualifications``, which the public pages
    show — or rejects it with a reason. At most one request per provider and kind is pending;
    a newer one supersedes it (providers.evidence)."""

    __tablename__ = "provider_qualification_changes"

    provider_id: Mapped[int] = _provider_fk()
    kind: Mapped[QualificationKind] = enum_column(QualificationKind, "kind")
    number: Mapped[str] = mapped_column(sa.String(40))
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    scope: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[ReviewStatus] = enum_column(ReviewStatus, "status", default=ReviewStatus.PENDING)
    requested_by_id: Mapped[int | None] = _actor_fk()
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = _actor_fk()
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint(
            "status = 'pending' OR decided_at IS NOT NULL", name="decision_has_time"
        ),
        sa.CheckConstraint(
            "status != 'rejected' OR decision_reason IS NOT NULL", name="rejection_has_reason"
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR requested_by_id IS NULL OR decided_by_id != requested_by_id",
            name="checker_is_not_maker",
        ),
        sa.Index(
            "uq_provider_qualification_changes_one_pending",
            "provider_id",
            "kind",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )


class ProviderDocument(IdMixin, Base):
    """A supporting document. The file lives under UPLOAD_DIR with a random name.

    Its ``review_status`` says whether it counts: documents of an application are accepted
    with it when a reviewer passes it to public notice; a document uploaded later (in notice,
    admitted, suspended) waits for a reviewer's decision of its own. Only accepted documents
    keep an accreditation alive (providers.admission.lapsed_accreditation).
    """

    __tablename__ = "provider_documents"

    provider_id: Mapped[int] = _provider_fk()
    kind: Mapped[DocumentKind] = enum_column(DocumentKind, "kind")
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    expires_on: Mapped[date | None] = mapped_column(sa.Date)
    uploaded_by_id: Mapped[int | None] = _actor_fk()
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    review_status: Mapped[ReviewStatus] = enum_column(
        ReviewStatus, "review_status", default=ReviewStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = _actor_fk()
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    provider: Mapped[Provider] = relationship(back_populates="documents")

    __table_args__ = (
        sa.CheckConstraint("size_bytes > 0", name="size_positive"),
        sa.CheckConstraint(
            "review_status IN ('pending', 'accepted', 'rejected')", name="review_status_known"
        ),
        sa.CheckConstraint(
            "review_status = 'pending' OR decided_at IS NOT NULL", name="decision_has_time"
        ),
        sa.CheckConstraint(
            "review_status != 'rejected' OR decision_reason IS NOT NULL",
            name="rejection_has_reason",
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR uploaded_by_id IS NULL OR decided_by_id != uploaded_by_id",
            name="checker_is_not_maker",
        ),
    )

    def is_valid_on(self, day: date) -> bool:
        return self.expires_on is None or self.expires_on >= day

    @property
    def is_accepted(self) -> bool:
        return self.review_status is ReviewStatus.ACCEPTED


class CreditCommitment(IdMixin, Base):
    """A signed credit commitment (信用承诺书): who signed which text version, and when."""

    __tablename__ = "provider_credit_commitments"

    provider_id: Mapped[int] = _provider_fk()
    text_version: Mapped[str] = mapped_column(sa.String(20))
    text_sha256: Mapped[str] = mapped_column(sa.String(64))
    signer_name: Mapped[str] = mapped_column(sa.String(100))
    signer_title: Mapped[str] = mapped_column(sa.String(100))
    signed_by_id: Mapped[int | None] = _actor_fk()
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("provider_id", "text_version"),)


class ProviderStatusChange(IdMixin, Base):
    """One step of a provider's admission history."""

    __tablename__ = "provider_status_changes"

    provider_id: Mapped[int] = _provider_fk()
    action: Mapped[ProviderAction] = enum_column(ProviderAction, "action")
    from_status: Mapped[ProviderStatus] = enum_column(ProviderStatus, "from_status")
    to_status: Mapped[ProviderStatus] = enum_column(ProviderStatus, "to_status")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = _actor_fk()
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="history")

    __table_args__ = (
        sa.CheckConstraint(
            "reason IS NOT NULL OR action IN ('submit', 'pass_to_notice', 'admit')",
            name="reason_required",
        ),
    )


class ProgrammeParticipation(IdMixin, TimestampMixin, Base):
    """A provider's standing in one voucher programme (admitted to one, not the other)."""

    __tablename__ = "programme_participations"

    provider_id: Mapped[int] = _provider_fk()
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[ParticipationStatus] = enum_column(
        ParticipationStatus, "status", default=ParticipationStatus.APPLIED
    )
    reason: Mapped[str | None] = mapped_column(sa.Text)

    provider: Mapped[Provider] = relationship(back_populates="participations")
    programme: Mapped[Programme] = relationship(lazy="joined")
    history: Mapped[list[ParticipationChange]] = relationship(
        back_populates="participation", order_by="ParticipationChange.id"
    )

    __table_args__ = (sa.UniqueConstraint("provider_id", "programme_id"),)


class ParticipationChange(IdMixin, Base):
    __tablename__ = "participation_changes"

    participation_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programme_participations.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[ParticipationStatus | None] = enum_column(
        ParticipationStatus, "from_status"
    )
    to_status: Mapped[ParticipationStatus] = enum_column(ParticipationStatus, "to_status")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = _actor_fk()
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    participation: Mapped[ProgrammeParticipation] = relationship(back_populates="history")

    __table_args__ = (
        sa.CheckConstraint(
            "reason IS NOT NULL OR to_status IN ('applied', 'admitted')", name="reason_required"
        ),
    )


class Objection(IdMixin, Base):
    """An objection filed by anyone against a provider during its public notice."""

    __tablename__ = "provider_objections"

    provider_id: Mapped[int] = _provider_fk()
    #: The pass-to-notice step that opened the notice round the objection was filed in. Only
    #: objections of the current round bear on admission: after an upheld objection the
    #: provider may re-apply and be judged on its new notice (providers.admission.admit).
    notice_change_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("provider_status_changes.id", ondelete="CASCADE"), index=True
    )
    objector_name: Mapped[str] = mapped_column(sa.String(100))
    objector_contact: Mapped[str] = mapped_column(sa.String(200))
    grounds: Mapped[str] = mapped_column(sa.Text)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[ObjectionStatus] = enum_column(
        ObjectionStatus, "status", default=ObjectionStatus.OPEN
    )
    decided_by_id: Mapped[int | None] = _actor_fk()
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None]

    provider: Mapped[Provider] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "status = 'open' OR (decision_reason IS NOT NULL AND decided_at IS NOT NULL)",
            name="decision_has_reason",
        ),
    )


class BankAccountChange(IdMixin, Base):
    """A requested change of an admitted (or suspended) provider's settlement bank account.

    Maker-checker: the provider asks, a finance officer who is not the requester approves or
    rejects it with a reason. Only approval copies the account to ``providers.bank_*``, which
    payout batches read, so money is only ever sent to an approved account. At most one
    request per provider is pending; a newer request supersedes it.
    """

    __tablename__ = "provider_bank_changes"

    provider_id: Mapped[int] = _provider_fk()
    bank_account_name: Mapped[str] = mapped_column(sa.String(200))
    bank_name: Mapped[str] = mapped_column(sa.String(200))
    bank_account_number: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[BankChangeStatus] = enum_column(
        BankChangeStatus, "status", default=BankChangeStatus.PENDING
    )
    requested_by_id: Mapped[int | None] = _actor_fk()
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = _actor_fk()
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: Read-only: the finance inbox names the provider (found by the authorisation matrix:
    #: finance's home page crashed while a change was pending).
    provider: Mapped[Provider] = relationship(viewonly=True)

    __table_args__ = (
        sa.CheckConstraint(
            "status = 'pending' OR decided_at IS NOT NULL", name="decision_has_time"
        ),
        sa.CheckConstraint(
            "status != 'rejected' OR decision_reason IS NOT NULL", name="rejection_has_reason"
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR requested_by_id IS NULL OR decided_by_id != requested_by_id",
            name="checker_is_not_maker",
        ),
        sa.Index(
            "uq_provider_bank_changes_one_pending",
            "provider_id",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )


class Service(IdMixin, TimestampMixin, Base):
    """One service a provider sells: fixed price per unit, or a quote on request."""

    __tablename__ = "services"

    provider_id: Mapped[int] = _provider_fk()
    title: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[ServiceCategory] = enum_column(ServiceCategory, "category", index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    pricing: Mapped[PricingMode] = enum_column(PricingMode, "pricing")
    price_fen: Mapped[int | None] = money_column()
    unit: Mapped[str] = mapped_column(sa.String(20))
    lead_time_days: Mapped[int] = mapped_column(sa.Integer)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: Title, provider, category labels, description and instrument details in one column: the
    #: text the trigram indexes cover (providers.search).
    search_text: Mapped[str] = mapped_column(sa.Text)
    rating_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    rating_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: Average stars × 100, kept in step with the two counters (0 while unrated).
    rating_avg_x100: Mapped[int] = mapped_column(sa.Integer, default=0)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    provider: Mapped[Provider] = relationship()
    instrument: Mapped[InstrumentListing | None] = relationship(
        back_populates="service", uselist=False, cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "(pricing = 'fixed' AND price_fen IS NOT NULL AND price_fen > 0)"
            " OR (pricing = 'quote' AND price_fen IS NULL)",
            name="price_matches_pricing",
        ),
        sa.CheckConstraint("lead_time_days > 0", name="lead_time_positive"),
        sa.CheckConstraint(
            "rating_count >= 0 AND rating_total >= rating_count AND rating_total <= 5 * rating_count",
            name="rating_counters",
        ),
        sa.CheckConstraint(
            "rating_avg_x100 >= 0 AND rating_avg_x100 <= 500", name="rating_avg_range"
        ),
    )


class InstrumentListing(IdMixin, Base):
    """The instrument behind an instrument-sharing service; its hourly rate is the price."""

    __tablename__ = "instrument_listings"

    service_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("services.id", ondelete="CASCADE"), unique=True
    )
    instrument_name: Mapped[str] = mapped_column(sa.String(200))
    model: Mapped[str] = mapped_column(sa.String(100))
    manufacturer: Mapped[str | None] = mapped_column(sa.String(100))
    location: Mapped[str] = mapped_column(sa.String(200))
    hourly_rate_fen: Mapped[int] = money_column()
    booking_notes: Mapped[str | None] = mapped_column(sa.Text)

    service: Mapped[Service] = relationship(back_populates="instrument")

    __table_args__ = (sa.CheckConstraint("hourly_rate_fen > 0", name="rate_positive"),)


class Rating(IdMixin, Base):
    """An enterprise's rating of a service after a completed order (one per order)."""

    __tablename__ = "service_ratings"

    service_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    provider_id: Mapped[int] = _provider_fk()
    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    order_ref: Mapped[str] = mapped_column(sa.String(64))
    stars: Mapped[int] = mapped_column(sa.Integer)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "order_ref"),
        sa.CheckConstraint("stars >= 1 AND stars <= 5", name="stars_range"),
    )


class Assessment(IdMixin, Base):
    """An administrator's or third-party evaluator's assessment (POLICY.md rule 9)."""

    __tablename__ = "provider_assessments"

    provider_id: Mapped[int] = _provider_fk()
    assessor_kind: Mapped[AssessorKind] = enum_column(AssessorKind, "assessor_kind")
    evaluator_name: Mapped[str] = mapped_column(sa.String(200))
    score: Mapped[int] = mapped_column(sa.Integer)
    period: Mapped[str] = mapped_column(sa.String(20))
    comment: Mapped[str] = mapped_column(sa.Text)
    report_ref: Mapped[str | None] = mapped_column(sa.String(100))
    recorded_by_id: Mapped[int | None] = _actor_fk()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        # One assessment per evaluator and period: a new one replaces it (providers.credit), so
        # repeating an assessment cannot weigh more in the credit score.
        sa.UniqueConstraint("provider_id", "assessor_kind", "evaluator_name", "period"),
    )


class CreditEvent(IdMixin, Base):
    """An upheld dispute or a late delivery, recorded once per order by the orders work."""

    __tablename__ = "provider_credit_events"

    provider_id: Mapped[int] = _provider_fk()
    kind: Mapped[CreditEventKind] = enum_column(CreditEventKind, "kind")
    order_ref: Mapped[str] = mapped_column(sa.String(64))
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int | None] = _actor_fk()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("provider_id", "kind", "order_ref"),)


class RelatedParty(IdMixin, Base):
    """An enterprise the provider declares affiliated; orders between them are refused.

    Once the application was submitted, the provider cannot end a declaration itself: it asks
    (:class:`RelatedPartyWithdrawal`) and the declaration stays in force until a reviewer
    accepts; ``withdrawn_*`` then record when it ended, who decided and the provider's reason.
    """

    __tablename__ = "provider_related_parties"

    provider_id: Mapped[int] = _provider_fk()
    credit_code: Mapped[str] = mapped_column(sa.String(18), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    relation: Mapped[RelationKind] = enum_column(RelationKind, "relation")
    note: Mapped[str | None] = mapped_column(sa.Text)
    declared_by_id: Mapped[int | None] = _actor_fk()
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = _actor_fk()
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("provider_id", "credit_code"),
        sa.CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        sa.CheckConstraint(
            "withdrawn_at IS NULL OR withdrawal_reason IS NOT NULL", name="withdrawal_has_reason"
        ),
    )

    withdrawals: Mapped[list[RelatedPartyWithdrawal]] = relationship(
        back_populates="declaration", order_by="RelatedPartyWithdrawal.id"
    )

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    @property
    def pending_withdrawal(self) -> RelatedPartyWithdrawal | None:
        """The provider's request to end this declaration awaiting a reviewer, if any."""
        return next((w for w in self.withdrawals if w.status is ReviewStatus.PENDING), None)


class RelatedPartyWithdrawal(IdMixin, Base):
    """A provider's request to end a related-party declaration, with its reason. Maker-checker
    like :class:`BankAccountChange`: a reviewer accepts it (the declaration ends) or rejects it
    with a reason (it stays in force). At most one request per declaration is pending; a newer
    one supersedes it (providers.related)."""

    __tablename__ = "provider_related_party_withdrawals"

    provider_id: Mapped[int] = _provider_fk()
    declaration_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("provider_related_parties.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ReviewStatus] = enum_column(ReviewStatus, "status", default=ReviewStatus.PENDING)
    requested_by_id: Mapped[int | None] = _actor_fk()
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = _actor_fk()
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    declaration: Mapped[RelatedParty] = relationship(back_populates="withdrawals")

    __table_args__ = (
        sa.CheckConstraint(
            "status = 'pending' OR decided_at IS NOT NULL", name="decision_has_time"
        ),
        sa.CheckConstraint(
            "status != 'rejected' OR decision_reason IS NOT NULL", name="rejection_has_reason"
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR requested_by_id IS NULL OR decided_by_id != requested_by_id",
            name="checker_is_not_maker",
        ),
        sa.Index(
            "uq_provider_related_party_withdrawals_one_pending",
            "declaration_id",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )
