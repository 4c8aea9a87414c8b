"""Notification services: queue a message in the caller's transaction, deliver it after."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import jobs
from marketplace.auth.models import User
from marketplace.config import Settings, current_settings
from marketplace.db import utcnow
from marketplace.errors import ValidationFailed
from marketplace.notifications import mailer
from marketplace.notifications.models import (
    EMAIL,
    EmailEvent,
    EmailStatus,
    OutboundEmail,
    retry_delay,
)
from marketplace.notifications.rendering import compose

DELIVER_JOB = "marketplace.notifications.services.deliver"
log = logging.getLogger(__name__)
#: What a mail server that is down, slow or refusing raises; anything else is a bug.
SMTP_FAILURES = (smtplib.SMTPException, OSError)


def _settings() -> Settings:
    settings: Settings = current_settings()
    return settings


def notify(
    session: Session, user_or_email: User | str, template: str, **context: Any
) -> OutboundEmail:
    """Queue the bilingual e-mail ``template`` for ``user_or_email``; sent after the commit.

    Raises ValidationFailed for an address that cannot be an e-mail address, and
    rendering.TemplateProblem for an unknown template or a variable it needs but did not get.
    """
    if isinstance(user_or_email, User):
        address, user_id = user_or_email.email, user_or_email.id
    else:
        address, user_id = user_or_email.strip(), None
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address) or len(address) > 254:
        raise ValidationFailed(
            "收件地址无效 / not a valid e-mail address", {"user_or_email": [address]}
        )
    composed = compose(template, {"base_url": _settings().base_url, **context})
    message = OutboundEmail(
        to_address=address,
        user_id=user_id,
        template=template,
        subject=composed.subject[:300],
        body=composed.body,
    )
    session.add(message)
    session.flush()
    jobs.enqueue(session, DELIVER_JOB, message.id)
    return message


def deliver(session: Session, message_id: int, *, now: datetime | None = None) -> bool:
    """Job: send one queued message and mark it sent. Returns False when it was not sent:
    already sent, gone, or the mail server failed — then the attempt is counted and the next
    one scheduled with back-off (:func:`models.retry_delay`) in this job's transaction, and
    ``flask notifications send-pending`` sends it when due."""
    now = now or utcnow()
    message = session.get(OutboundEmail, message_id, with_for_update=True, populate_existing=True)
    if message is None or not EMAIL.allows(message.status, EmailEvent.DELIVERED):
        return False
    settings = _settings()
    try:
        mailer.send(
            settings,
            mailer.build_message(
                settings,
                message_id=message.id,
                created_at=message.created_at,
                to=message.to_address,
                subject=message.subject,
                body=message.body,
            ),
        )
    except SMTP_FAILURES as exc:
        message.attempts += 1
        message.last_error = type(exc).__name__[:100]
        message.next_attempt_at = now + retry_delay(message.attempts)
        session.flush()
        log.warning(
            "e-mail %s not delivered (%s, attempt %s); next attempt at %s",
            message.id,
            message.last_error,
            message.attempts,
            message.next_attempt_at.isoformat(),
            extra={"fields": {"event": "email_retry", "outbox_id": message.id}},
        )
        return False
    EMAIL.move(message, EmailEvent.DELIVERED)
    message.sent_at = now
    message.next_attempt_at = None
    session.flush()
    return True


def requeue_pending(
    session: Session, *, older_than: timedelta = timedelta(minutes=10), now: datetime | None = None
) -> int:
    """Queue delivery again for messages that are due: never attempted and older than
    ``older_than`` (lost dispatch, crashed worker), or failed before and past their back-off.
    Delivery is idempotent, so a message is never sent twice by this."""
    now = now or utcnow()
    cutoff = now - older_than
    ids = list(
        session.scalars(
            sa.select(OutboundEmail.id)
            .where(
                OutboundEmail.status == EmailStatus.QUEUED,
                sa.or_(
                    sa.and_(
                        OutboundEmail.next_attempt_at.is_(None), OutboundEmail.created_at < cutoff
                    ),
                    OutboundEmail.next_attempt_at <= now,
                ),
            )
            .order_by(OutboundEmail.id)
        )
    )
    for message_id in ids:
        jobs.enqueue(session, DELIVER_JOB, message_id)
    return len(ids)
