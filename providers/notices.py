"""Who at a provider is told, and how: e-mails queued with
:func:`marketplace.notifications.notify` in the caller's transaction, sent after its commit."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.enums import Role
from marketplace.notifications import notify
from providers.models import Provider


def provider_recipients(session: Session, provider_id: int) -> list[User | str]:
    """The provider's active users; its contact address when it has none."""
    users: list[User | str] = list(
        session.scalars(
            sa.select(User)
            .where(
                User.provider_id == provider_id,
                User.role == Role.PROVIDER,
                User.is_active.is_(True),
            )
            .order_by(User.id)
        )
    )
    if users:
        return users
    provider = session.get(Provider, provider_id)
    return [provider.contact_email] if provider is not None and provider.contact_email else []


def tell_provider(session: Session, provider: Provider, template: str, **context: Any) -> None:
    """Queue ``template`` to each of the provider's users (its contact address without any),
    with ``name`` and ``provider_name`` added to ``context``."""
    for recipient in provider_recipients(session, provider.id):
        notify(
            session,
            recipient,
            template,
            name=recipient.display_name if isinstance(recipient, User) else provider.name,
            provider_name=provider.name,
            **context,
        )
