"""The party index: one row per (organisation, attribute value), looked up by value."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigInt, IdMixin, enum_column
from marketplace.parties.enums import AttributeKind, PartyKind


class PartyAttribute(IdMixin, Base):
    """A normalised attribute of an enterprise or provider. ``value`` is what must be equal for
    two organisations to match (the legal representative's keyed hash, digits of a phone…);
    ``evidence`` is what a reviewer is shown (masked where it is personal data).

    Rows are replaced whenever the organisation's details change; the index on
    ``(kind, value)`` makes "who else has this?" one lookup at any number of organisations.
    """

    __tablename__ = "party_attributes"

    party_kind: Mapped[PartyKind] = enum_column(PartyKind, "party_kind")
    party_id: Mapped[int] = mapped_column(BigInt)
    kind: Mapped[AttributeKind] = enum_column(AttributeKind, "kind")
    value: Mapped[str] = mapped_column(sa.String(300))
    evidence: Mapped[str] = mapped_column(sa.String(300))

    __table_args__ = (
        sa.UniqueConstraint("party_kind", "party_id", "kind", "value"),
        sa.Index("ix_party_attributes_lookup", "kind", "value", "party_kind", "party_id"),
        sa.CheckConstraint("length(value) > 0", name="value_present"),
    )
