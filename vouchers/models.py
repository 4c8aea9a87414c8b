"""Voucher-domain tables."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, enum_column, money_column
from marketplace.enums import LabelledEnum, SizeClass


class VerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


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
    blacklisted: Mapped[bool] = mapped_column(default=False)
    blacklist_reason: Mapped[str | None] = mapped_column(sa.Text)
    blacklist_source: Mapped[str | None] = mapped_column(sa.String(200))
    blacklisted_on: Mapped[date | None] = mapped_column(sa.Date)

    __table_args__ = (
        sa.CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        sa.CheckConstraint(
            "blacklisted = false OR blacklist_reason IS NOT NULL", name="blacklist_has_reason"
        ),
    )

    @property
    def is_verified(self) -> bool:
        return self.verification_status is VerificationStatus.VERIFIED


class ProgrammeKind(LabelledEnum):
    INNOVATION = "innovation", "科技创新券", "Innovation voucher"
    SERVICE = "service", "创业创新服务券", "Service voucher"


class FundingBody(LabelledEnum):
    PROVINCIAL = "provincial", "省级财政", "Provincial finance"
    MUNICIPAL = "municipal", "市级财政", "Municipal finance"


DEFAULT_ANNUAL_CAP_FEN = 3_000_000  # 30,000 yuan (POLICY.md rule 1)
DEFAULT_CEILING_BPS = 5_000  # 50.00 % of the invoiced price (POLICY.md rule 2)


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

    __table_args__ = (
        sa.UniqueConstraint("kind", "year"),
        sa.CheckConstraint("total_budget_fen > 0", name="budget_positive"),
        sa.CheckConstraint("annual_cap_fen > 0", name="cap_positive"),
        sa.CheckConstraint("ceiling_bps > 0 AND ceiling_bps <= 10000", name="ceiling_range"),
        sa.CheckConstraint("applications_close_on >= applications_open_on", name="window_order"),
        sa.CheckConstraint("claim_deadline >= use_by", name="claim_after_use"),
        sa.CheckConstraint("notice_days >= 0", name="notice_days_non_negative"),
    )
