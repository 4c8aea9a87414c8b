"""Risk tables: rule settings, flags and scores per order, audit samples and findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, enum_column, money_column, utcnow
from marketplace.risk.enums import FindingOutcome, FollowUp, Rule


def _user_fk() -> Any:
    return mapped_column(BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"))


def _order_fk(**kwargs: Any) -> Any:
    return mapped_column(BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), **kwargs)


class RiskSetting(IdMixin, Base):
    """A rule's threshold and weight as changed by an administrator (a rule without a row
    uses its default, marketplace.risk.rules.DEFAULTS)."""

    __tablename__ = "risk_settings"

    rule: Mapped[Rule] = enum_column(Rule, "rule", unique=True)
    threshold: Mapped[int] = mapped_column(sa.BigInteger)
    weight: Mapped[int] = mapped_column(sa.Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = _user_fk()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("threshold >= 0", name="threshold_non_negative"),
        sa.CheckConstraint("weight >= 0 AND weight <= 100", name="weight_range"),
    )


class OrderRisk(IdMixin, Base):
    """An order's risk score as last assessed (0–100), with its flags."""

    __tablename__ = "order_risks"

    order_id: Mapped[int] = _order_fk(unique=True)
    score: Mapped[int] = mapped_column(sa.Integer, index=True)
    programme_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)

    flags: Mapped[list[RiskFlag]] = relationship(
        primaryjoin="OrderRisk.order_id == foreign(RiskFlag.order_id)",
        order_by="RiskFlag.id",
        viewonly=True,
    )

    __table_args__ = (sa.CheckConstraint("score >= 0 AND score <= 100", name="score_range"),)


class RiskFlag(IdMixin, Base):
    """One rule that fired for one order, with its explanation and the records it links."""

    __tablename__ = "risk_flags"

    order_id: Mapped[int] = _order_fk(index=True)
    rule: Mapped[Rule] = enum_column(Rule, "rule", index=True)
    weight: Mapped[int] = mapped_column(sa.Integer)
    explanation_zh: Mapped[str] = mapped_column(sa.Text)
    explanation_en: Mapped[str] = mapped_column(sa.Text)
    links: Mapped[dict[str, list[int]]] = mapped_column(sa.JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)

    risk: Mapped[OrderRisk] = relationship(
        primaryjoin="foreign(RiskFlag.order_id) == OrderRisk.order_id",
        viewonly=True,
        lazy="joined",
    )

    __table_args__ = (sa.UniqueConstraint("order_id", "rule"),)


class AuditSample(IdMixin, Base):
    """A sample of orders drawn for audit, weighted by risk. Size, scope and seed are kept so
    the same draw can be repeated and checked."""

    __tablename__ = "audit_samples"

    size: Mapped[int] = mapped_column(sa.Integer)
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    programme_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("programmes.id", ondelete="RESTRICT")
    )
    provider_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT")
    )
    min_score: Mapped[int] = mapped_column(sa.Integer, default=0)
    population: Mapped[int] = mapped_column(sa.Integer)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    drawn_by_id: Mapped[int | None] = _user_fk()
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[SampleItem]] = relationship(
        back_populates="sample", order_by="SampleItem.position"
    )

    __table_args__ = (
        sa.CheckConstraint("size > 0", name="size_positive"),
        sa.CheckConstraint("population >= 0", name="population_non_negative"),
    )


class SampleItem(IdMixin, Base):
    """One drawn order, with the score it had when drawn."""

    __tablename__ = "audit_sample_items"

    sample_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("audit_samples.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(sa.Integer)
    order_id: Mapped[int] = _order_fk(index=True)
    score: Mapped[int] = mapped_column(sa.Integer)

    sample: Mapped[AuditSample] = relationship(back_populates="items")
    finding: Mapped[Finding | None] = relationship(back_populates="item", uselist=False)

    __table_args__ = (
        sa.UniqueConstraint("sample_id", "order_id"),
        sa.UniqueConstraint("sample_id", "position"),
    )


class Finding(IdMixin, Base):
    """The auditor's conclusion on one sampled order. Recorded once (a correction is a new
    sample's finding), so what fed the credit score or started a listing stays on record."""

    __tablename__ = "audit_findings"

    item_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("audit_sample_items.id", ondelete="RESTRICT"), unique=True
    )
    order_id: Mapped[int] = _order_fk(index=True)
    provider_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    outcome: Mapped[FindingOutcome] = enum_column(FindingOutcome, "outcome")
    follow_up: Mapped[FollowUp] = enum_column(FollowUp, "follow_up", default=FollowUp.NONE)
    notes: Mapped[str] = mapped_column(sa.Text)
    recovery_fen: Mapped[int] = money_column(default=0)
    recorded_by_id: Mapped[int | None] = _user_fk()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    item: Mapped[SampleItem] = relationship(back_populates="finding")
    documents: Mapped[list[FindingDocument]] = relationship(
        back_populates="finding", order_by="FindingDocument.id"
    )

    __table_args__ = (
        sa.CheckConstraint("length(notes) > 0", name="notes_present"),
        sa.CheckConstraint(
            "outcome = 'irregular' OR follow_up = 'none'", name="follow_up_only_if_irregular"
        ),
        sa.CheckConstraint("recovery_fen >= 0", name="recovery_non_negative"),
    )


class FindingDocument(IdMixin, Base):
    """Evidence attached to a finding (checked like every upload: PDF, PNG or JPEG)."""

    __tablename__ = "audit_finding_documents"

    finding_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("audit_findings.id", ondelete="RESTRICT"), index=True
    )
    stored_name: Mapped[str] = mapped_column(sa.String(100))
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)

    finding: Mapped[Finding] = relationship(back_populates="documents")
