"""One row of outcomes per completed order."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigInt, IdMixin, TimestampMixin, money_column


class OrderOutcome(IdMixin, TimestampMixin, Base):
    """What an order's service led to, as the SME reports it. Counts are kept beside the
    patent list so the summaries add columns instead of reading JSON."""

    __tablename__ = "order_outcomes"

    order_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    #: [{"number": "CN2027100012345", "type": "invention"}, …]
    patents: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    patent_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    certifications: Mapped[int] = mapped_column(sa.Integer, default=0)
    certification_note: Mapped[str] = mapped_column(sa.Text, default="")
    high_tech_recognised: Mapped[bool] = mapped_column(default=False)
    new_products: Mapped[int] = mapped_column(sa.Integer, default=0)
    new_processes: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: Yearly effect the SME attributes to the service, in fen (revenue gained, cost saved).
    revenue_effect_fen: Mapped[int] = money_column(default=0)
    cost_effect_fen: Mapped[int] = money_column(default=0)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    editable_until: Mapped[date] = mapped_column(sa.Date)
    recorded_by_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __table_args__ = (
        sa.CheckConstraint(
            "patent_count >= 0 AND certifications >= 0 AND new_products >= 0 "
            "AND new_processes >= 0",
            name="counts_non_negative",
        ),
        sa.CheckConstraint("revenue_effect_fen >= 0", name="revenue_non_negative"),
        sa.CheckConstraint("cost_effect_fen >= 0", name="cost_non_negative"),
    )
