"""Voucher-domain tables: enterprises (verification, blacklist), programmes, applications and
their history, vouchers, the per-enterprise annual quota, holds, bulk issuance batches and
recovery flags. The double-entry ledger's tables are in :mod:`vouchers.ledger_models`.

Money is integer fen with CHECK constraints; the quota row's CHECK ``used + held <= cap`` and
the voucher's ``balance + held + used + returned = face value`` make the database itself refuse
a breach even if code were wrong.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from marketplace.auth.models import User
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, enum_column, money_column, utcnow
from marketplace.enums import SizeClass
from vouchers.enums import (
    ApplicationAction,
    ApplicationSource,
    ApplicationStatus,
    BlacklistAction,
    CapScope,
    FreezeStatus,
    FundingBody,
    HoldStatus,
    ProgrammeKind,
    VerificationStatus,
    VoucherStatus,
)

if TYPE_CHECKING:
    from vouchers.funder_models import HoldFunderPart

__all__ = [
    "DEFAULT_ANNUAL_CAP_FEN",
    "DEFAULT_CEILING_BPS",
    "Application",
    "ApplicationEvent",
    "BlacklistEvent",
    "Enterprise",
    "EnterpriseVerificationEvent",
    "Hold",
    "HoldFreeze",
    "IssuanceBatch",
    "Programme",
    "Quota",
    "RecoveryFlag",
    "Voucher",
]

DEFAULT_ANNUAL_CAP_FEN = 3_000_000  # 30,000 yuan (POLICY.md rule 1)
DEFAULT_CEILING_BPS = 5_000  # 50.00 % of the invoiced price (POLICY.md rule 2)


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="SET NULL")


class Enterprise(IdMixin, TimestampMixin, Base):
    """An SME that may hold vouchers. Identified by its unified social credit code."""

    __tablename__ = "enterprises"

    name: Mapped[str] = mapped_column(sa.String(200))
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    #: Administrative-division code of registration, characters 3–8 of the credit code.
    region_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    size_class: Mapped[SizeClass] = enum_column(SizeClass, "size_class")
    industry: Mapped[str | None] = mapped_column(sa.String(100))
    contact_name: Mapped[str] = mapped_column(sa.String(100))
    contact_phone: Mapped[str] = mapped_column(sa.String(40))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    verification_status: Mapped[VerificationStatus] = enum_column(
        VerificationStatus, "verification_status", default=VerificationStatus.PENDING
    )
    # Who is behind the enterprise (related-party detection, marketplace.parties): the legal
    # representative's identity number is kept only as a keyed hash and its masked form.
    legal_rep_name: Mapped[str | None] = mapped_column(sa.String(100))
    legal_rep_id_hash: Mapped[str | None] = mapped_column(sa.String(64))
    legal_rep_id_masked: Mapped[str | None] = mapped_column(sa.String(32))
    registered_address: Mapped[str | None] = mapped_column(sa.String(300))
    bank_account_number: Mapped[str | None] = mapped_column(sa.String(40))
    blacklisted: Mapped[bool] = mapped_column(default=False)
    blacklist_reason: Mapped[str | None] = mapped_column(sa.Text)
    blacklist_source: Mapped[str | None] = mapped_column(sa.String(200))
    blacklisted_on: Mapped[date | None] = mapped_column(sa.Date)
    #: Optimistic concurrency for profile edits (If-Match / form field).
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")

    #: The kernel's User knows only ``enterprise_id``; the domain that owns enterprises adds the
    #: navigation both ways (``enterprise.users``, ``user.enterprise``).
    users: Mapped[list[User]] = relationship(
        backref=backref("enterprise", lazy="joined"), order_by=User.id
    )

    __table_args__ = (
        sa.CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        sa.CheckConstraint(
            "blacklisted = false OR blacklist_reason IS NOT NULL", name="blacklist_has_reason"
        ),
    )

    @property
    def is_verified(self) -> bool:
        return self.verification_status is VerificationStatus.VERIFIED

    @property
    def region_name(self) -> str:
        try:
            return parse_credit_code(self.credit_code).region_name
        except CreditCodeError:
            return self.region_code


class EnterpriseVerificationEvent(IdMixin, Base):
    """One verification decision; rows are only inserted."""

    __tablename__ = "enterprise_verification_events"

    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    from_status: Mapped[VerificationStatus] = enum_column(VerificationStatus, "from_status")
    to_status: Mapped[VerificationStatus] = enum_column(VerificationStatus, "to_status")
    note: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = mapped_column(BigInt, _user_fk())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HoldFreeze(IdMixin, Base):
    """One order's voucher money (its hold, open or captured but not yet claimed) frozen by a
    blacklisting: no capture and no claim until a reviewer decides (release to the budget, or
    unfreeze with a reason), or the listing is lifted. Status moved by ``rules.HOLD_FREEZE``."""

    __tablename__ = "hold_freezes"

    hold_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("voucher_holds.id", ondelete="RESTRICT"), index=True
    )
    voucher_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("vouchers.id", ondelete="RESTRICT"), index=True
    )
    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    #: The listing that froze it; lifting that listing unfreezes what it froze.
    blacklist_event_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprise_blacklist_events.id", ondelete="RESTRICT")
    )
    status: Mapped[FreezeStatus] = enum_column(FreezeStatus, "status", default=FreezeStatus.FROZEN)
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(BigInt, _user_fk())
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    hold: Mapped[Hold] = relationship()
    voucher: Mapped[Voucher] = relationship()
    enterprise: Mapped[Enterprise] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("hold_id", "blacklist_event_id", name="uq_hold_freezes_hold_listing"),
        sa.CheckConstraint(
            "(status = 'frozen' AND decided_at IS NULL) OR (status <> 'frozen'"
            " AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)",
            name="decided_with_reason",
        ),
    )


class BlacklistEvent(IdMixin, Base):
    """Dishonesty-list (失信) history: who listed or delisted, why, on whose authority, when."""

    __tablename__ = "enterprise_blacklist_events"

    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[BlacklistAction] = enum_column(BlacklistAction, "action")
    reason: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.String(200))
    effective_on: Mapped[date] = mapped_column(sa.Date)
    actor_id: Mapped[int | None] = mapped_column(BigInt, _user_fk())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("length(reason) > 0", name="reason_present"),
        sa.CheckConstraint("action = 'removed' OR source IS NOT NULL", name="listing_has_source"),
    )


class Programme(IdMixin, TimestampMixin, Base):
    """One year of one voucher programme, with its budget and rules."""

    __tablename__ = "programmes"

    kind: Mapped[ProgrammeKind] = enum_column(ProgrammeKind, "kind")
    year: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    funding_body: Mapped[FundingBody] = enum_column(FundingBody, "funding_body")
    total_budget_fen: Mapped[int] = money_column()
    annual_cap_fen: Mapped[int] = money_column(default=DEFAULT_ANNUAL_CAP_FEN)
    #: Reimbursement ceiling in basis points of the invoiced price (5000 = 50 %).
    ceiling_bps: Mapped[int] = mapped_column(sa.Integer, default=DEFAULT_CEILING_BPS)
    eligible_categories: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    eligible_size_classes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: Credit-code division prefix an applicant must be registered under ("53" = Yunnan).
    region_prefix: Mapped[str] = mapped_column(sa.String(6), default="53")
    applications_open_on: Mapped[date] = mapped_column(sa.Date)
    applications_close_on: Mapped[date] = mapped_column(sa.Date)
    #: Vouchers may be used (holds placed) up to and including this date.
    use_by: Mapped[date] = mapped_column(sa.Date)
    #: Providers may claim redemption up to and including this later date.
    claim_deadline: Mapped[date] = mapped_column(sa.Date)
    low_budget_alert_bps: Mapped[int] = mapped_column(sa.Integer, default=1_000)
    notice_days: Mapped[int] = mapped_column(sa.Integer, default=7)
    #: SHARED: counts against the enterprise's cross-programme cap (annual_cap_fen is then the
    #: policy cap); PROGRAMME: this programme's vouchers have their own cap of annual_cap_fen.
    cap_scope: Mapped[CapScope] = enum_column(
        CapScope, "cap_scope", default=CapScope.SHARED, server_default=CapScope.SHARED.value
    )
    #: Enterprises under one controller (sharing a legal representative or bank account, see
    #: marketplace.parties) share one annual cap in this programme's scope.
    group_cap: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Shared by several funders, or paid by the SME's home region (vouchers.funders): every
    #: hold then splits its voucher part between the funders. False (one funder, or none
    #: named): the programme's own budget is the funder's, and the hold path stays as lean.
    co_funded: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")

    __table_args__ = (
        sa.UniqueConstraint("kind", "year"),
        sa.CheckConstraint("total_budget_fen > 0", name="budget_positive"),
        sa.CheckConstraint("annual_cap_fen > 0", name="cap_positive"),
        sa.CheckConstraint("ceiling_bps > 0 AND ceiling_bps <= 10000", name="ceiling_range"),
        sa.CheckConstraint("applications_close_on >= applications_open_on", name="window_order"),
        sa.CheckConstraint("claim_deadline >= use_by", name="claim_after_use"),
        sa.CheckConstraint("notice_days >= 0", name="notice_days_non_negative"),
    )

    def is_open_on(self, day: date) -> bool:
        return self.applications_open_on <= day <= self.applications_close_on


class Application(IdMixin, TimestampMixin, Base):
    """An enterprise's request for a voucher from one programme."""

    __tablename__ = "voucher_applications"

    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    #: programme_id while the application is not rejected, NULL once it is: the unique key on
    #: (enterprise_id, live_programme_id) allows one live application per programme, race-free.
    live_programme_id: Mapped[int | None] = mapped_column(BigInt)
    status: Mapped[ApplicationStatus] = enum_column(ApplicationStatus, "status")
    source: Mapped[ApplicationSource] = enum_column(ApplicationSource, "source")
    requested_fen: Mapped[int] = money_column()
    approved_fen: Mapped[int | None] = money_column()
    planned_categories: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    plan: Mapped[str] = mapped_column(sa.Text)
    #: The reviewer's open question while status is clarification_requested.
    clarification_question: Mapped[str | None] = mapped_column(sa.Text)
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    programme: Mapped[Programme] = relationship(lazy="joined")
    events: Mapped[list[ApplicationEvent]] = relationship(
        order_by="ApplicationEvent.id", back_populates="application"
    )
    voucher: Mapped[Voucher | None] = relationship(
        "Voucher", uselist=False, viewonly=True, foreign_keys="Voucher.application_id"
    )

    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "live_programme_id"),
        sa.CheckConstraint("requested_fen > 0", name="requested_positive"),
        sa.CheckConstraint(
            "approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= requested_fen)",
            name="approved_within_request",
        ),
        sa.CheckConstraint(
            "(status = 'rejected' AND live_programme_id IS NULL)"
            " OR (status <> 'rejected' AND live_programme_id = programme_id)",
            name="live_key_matches_status",
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (approved_fen IS NOT NULL)", name="approved_has_amount"
        ),
    )


class ApplicationEvent(IdMixin, Base):
    """One status change of an application (its history); rows are only inserted."""

    __tablename__ = "voucher_application_events"

    application_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("voucher_applications.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[ApplicationAction] = enum_column(ApplicationAction, "action")
    from_status: Mapped[ApplicationStatus | None] = enum_column(ApplicationStatus, "from_status")
    to_status: Mapped[ApplicationStatus] = enum_column(ApplicationStatus, "to_status")
    amount_fen: Mapped[int | None] = money_column()
    note: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = mapped_column(BigInt, _user_fk())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(back_populates="events")


class Voucher(IdMixin, Base):
    """An electronic voucher. The money columns mirror the voucher's two ledger accounts
    (balance, held) and its history (used, returned) under the row lock every money operation
    takes; ``flask ledger verify`` checks that they agree with the ledger."""

    __tablename__ = "vouchers"

    serial: Mapped[str] = mapped_column(sa.String(24), unique=True)
    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    application_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("voucher_applications.id", ondelete="RESTRICT"), unique=True
    )
    status: Mapped[VoucherStatus] = enum_column(
        VoucherStatus, "status", default=VoucherStatus.ACTIVE
    )
    face_value_fen: Mapped[int] = money_column()
    balance_fen: Mapped[int] = money_column()
    held_fen: Mapped[int] = money_column(default=0)
    used_fen: Mapped[int] = money_column(default=0)
    #: Returned to the programme budget on expiry or revocation.
    returned_fen: Mapped[int] = money_column(default=0)
    valid_from: Mapped[date] = mapped_column(sa.Date)
    use_by: Mapped[date] = mapped_column(sa.Date)
    claim_deadline: Mapped[date] = mapped_column(sa.Date)
    #: Random part of the signed verification token; rotating it invalidates old tokens.
    token_nonce: Mapped[str] = mapped_column(sa.String(32))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expired_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(sa.Text)
    revocation_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)

    programme: Mapped[Programme] = relationship(lazy="joined")
    enterprise: Mapped[Enterprise] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("face_value_fen > 0", name="face_value_positive"),
        sa.CheckConstraint(
            "balance_fen >= 0 AND held_fen >= 0 AND used_fen >= 0 AND returned_fen >= 0",
            name="amounts_non_negative",
        ),
        sa.CheckConstraint(
            "balance_fen + held_fen + used_fen + returned_fen = face_value_fen",
            name="amounts_add_up",
        ),
        sa.CheckConstraint(
            "status IN ('active', 'exhausted', 'frozen') OR balance_fen = 0",
            name="closed_has_no_balance",
        ),
        sa.CheckConstraint("status <> 'revoked' OR held_fen = 0", name="revoked_has_no_holds"),
        sa.CheckConstraint("claim_deadline >= use_by AND use_by >= valid_from", name="date_order"),
    )


class Quota(IdMixin, Base):
    """What one enterprise used (captured) and holds against one annual cap in one calendar
    year. Every hold, capture and release locks this row, so the cap is race-safe."""

    __tablename__ = "enterprise_year_quotas"

    enterprise_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT")
    )
    year: Mapped[int] = mapped_column(sa.Integer)
    #: "shared" (across programmes) or "programme:<id>" for a programme with its own cap.
    scope: Mapped[str] = mapped_column(sa.String(40))
    programme_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT")
    )
    cap_fen: Mapped[int] = money_column()
    used_fen: Mapped[int] = money_column(default=0)
    held_fen: Mapped[int] = money_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "year", "scope"),
        sa.CheckConstraint("cap_fen > 0", name="cap_positive"),
        sa.CheckConstraint("used_fen >= 0 AND held_fen >= 0", name="amounts_non_negative"),
        sa.CheckConstraint("used_fen + held_fen <= cap_fen", name="within_cap"),
    )

    @property
    def remaining_fen(self) -> int:
        return max(0, self.cap_fen - self.used_fen - self.held_fen)


class Hold(IdMixin, Base):
    """Money reserved on a voucher for one order; resolved once, by capture or release."""

    __tablename__ = "voucher_holds"

    voucher_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("vouchers.id", ondelete="RESTRICT"), index=True
    )
    quota_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("enterprise_year_quotas.id", ondelete="RESTRICT"), index=True
    )
    order_ref: Mapped[str] = mapped_column(sa.String(100), index=True)
    status: Mapped[HoldStatus] = enum_column(HoldStatus, "status", default=HoldStatus.OPEN)
    requested_fen: Mapped[int] = money_column()
    price_fen: Mapped[int] = money_column()
    amount_fen: Mapped[int] = money_column()
    captured_fen: Mapped[int] = money_column(default=0)
    released_fen: Mapped[int] = money_column(default=0)
    provider_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT")
    )
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    resolution_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    release_reason: Mapped[str | None] = mapped_column(sa.String(40))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    voucher: Mapped[Voucher] = relationship()
    #: The funders' parts of a co-funded programme's hold (vouchers.funders); none otherwise.
    funder_parts: Mapped[list[HoldFunderPart]] = relationship(
        "HoldFunderPart", order_by="HoldFunderPart.position", viewonly=True
    )

    __table_args__ = (
        sa.CheckConstraint("price_fen > 0 AND requested_fen > 0", name="inputs_positive"),
        sa.CheckConstraint(
            "amount_fen > 0 AND amount_fen <= requested_fen AND amount_fen <= price_fen",
            name="amount_bounded",
        ),
        sa.CheckConstraint(
            "captured_fen >= 0 AND released_fen >= 0", name="resolution_non_negative"
        ),
        sa.CheckConstraint(
            "(status = 'open' AND captured_fen = 0 AND released_fen = 0 AND resolved_at IS NULL"
            " AND resolution_key IS NULL)"
            " OR (status <> 'open' AND captured_fen + released_fen = amount_fen"
            " AND resolved_at IS NOT NULL AND resolution_key IS NOT NULL)",
            name="resolution_consistent",
        ),
        sa.CheckConstraint(
            "status <> 'captured' OR (captured_fen > 0 AND provider_id IS NOT NULL)",
            name="capture_has_provider",
        ),
        sa.CheckConstraint("status <> 'released' OR captured_fen = 0", name="release_is_full"),
    )


class IssuanceBatch(IdMixin, Base):
    """One bulk issuance (CSV upload or API call) and its per-row report. The file's SHA-256
    is unique per programme, so uploading the same file twice issues nothing twice."""

    __tablename__ = "voucher_issuance_batches"

    programme_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(200))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    actor_id: Mapped[int | None] = mapped_column(BigInt, _user_fk())
    issued_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    refused_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    issued_fen: Mapped[int] = money_column(default=0)
    report: Mapped[list[dict[str, object]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    programme: Mapped[Programme] = relationship(lazy="joined")

    __table_args__ = (sa.UniqueConstraint("programme_id", "sha256"),)


class RecoveryFlag(IdMixin, Base):
    """Redeemed money of a revoked (fraudulent) voucher, flagged for recovery by finance."""

    __tablename__ = "voucher_recovery_flags"

    voucher_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("vouchers.id", ondelete="RESTRICT"), unique=True
    )
    amount_fen: Mapped[int] = money_column()
    reason: Mapped[str] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = mapped_column(BigInt, _user_fk())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    voucher: Mapped[Voucher] = relationship(lazy="joined")

    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)
