"""The e-mail outbox: one row per message, written in the transaction that caused it.

``notify`` inserts the row and queues its delivery for after the commit; a rollback removes
both, so no e-mail ever describes something that did not happen. Delivery marks the row
``sent``; a message still ``queued`` after a crash is picked up by
``flask notifications send-pending``.

A delivery the SMTP server refused or could not take (down, timing out) stays ``queued``
with its attempt counted and the time of its next attempt backed off
(:func:`retry_delay`); the sweeper sends it when that time has come, so an outage of the mail
server loses nothing and does not hammer it when it comes back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigInt, IdMixin, enum_column, utcnow
from marketplace.statemachine import StateMachine


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"


class EmailEvent(StrEnum):
    """What happens to a queued message: the SMTP server accepted it."""

    DELIVERED = "delivered"


#: Back-off between delivery attempts: 1, 2, 4 … minutes, at most an hour.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed delivery (``attempts`` ≥ 1)."""
    if attempts < 1:
        raise ValueError("attempts counts failures, from 1")
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LONGEST_RETRY)


#: A message is queued until the SMTP server accepts it, then sent for good.
EMAIL = StateMachine("email", {(EmailStatus.QUEUED, EmailEvent.DELIVERED): EmailStatus.SENT})


class OutboundEmail(IdMixin, Base):
    __tablename__ = "outbound_emails"

    to_address: Mapped[str] = mapped_column(sa.String(254))
    #: The user it was for, when known (their account may later be deleted).
    user_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    template: Mapped[str] = mapped_column(sa.String(100))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[EmailStatus] = enum_column(
        EmailStatus, "email_status", default=EmailStatus.QUEUED
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    #: Failed delivery attempts so far, when the next one is due, and the last failure's kind
    #: (an exception class name: never the server's text, which may quote the address).
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(100))

    __table_args__ = (
        sa.CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_has_time"),
    )
