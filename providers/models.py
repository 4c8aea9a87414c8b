"""Provider-domain tables."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, enum_column
from marketplace.enums import InstitutionType


class ProviderStatus(StrEnum):
    """Admission life cycle of a provider (see providers.rules for the allowed moves)."""

    PENDING = "pending"  # registered, application not yet reviewed
    IN_NOTICE = "in_notice"  # reviewer passed it; public notice (公示) running
    ADMITTED = "admitted"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


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

    __table_args__ = (sa.CheckConstraint("length(credit_code) = 18", name="credit_code_length"),)
