"""Notification services: queue a message in the caller's transaction, deliver it after."""

from __future__ import annotations

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
from marketplace.notifications.models import EMAIL, EmailEvent, EmailStatus, OutboundEmail
from marketplace.notifications.rendering import compose

DELIVER_JOB = "marketplace.notifications.services.deliver"


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
    """Job: send one queued message and mark it sent. Returns False when there was nothing to
    send (already sent, or gone). SMTP errors propagate, so the job is retried."""
    message = session.get(OutboundEmail, message_id, with_for_update=True, populate_existing=True)
    if message is None or not EMAIL.allows(message.status, EmailEvent.DELIVERED):
        return False
    settings = _settings()
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
    EMAIL.move(message, EmailEvent.DELIVERED)
    message.sent_at = now or utcnow()
    session.flush()
    return True


def requeue_pending(
    session: Session, *, older_than: timedelta = timedelta(minutes=10), now: datetime | None = None
) -> int:
    """Queue delivery again for messages still unsent after ``older_than`` (lost dispatch,
    crashed worker). Delivery is idempotent, so a message is never sent twice by this."""
    cutoff = (now or utcnow()) - older_than
    ids = list(
        session.scalars(
            sa.select(OutboundEmail.id)
            .where(OutboundEmail.status == EmailStatus.QUEUED, OutboundEmail.created_at < cutoff)
            .order_by(OutboundEmail.id)
        )
    )
    for message_id in ids:
        jobs.enqueue(session, DELIVER_JOB, message_id)
    return len(ids)
