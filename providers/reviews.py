"""Maker-checker for what a provider changes once its file was reviewed: the steps every such
request shares, whoever decides it.

* :mod:`providers.bank_changes` — the settlement account, decided by a finance officer;
* :mod:`providers.evidence` — documents and qualification numbers, decided by a reviewer;
* :mod:`providers.related` — withdrawals of related-party declarations, decided by a reviewer.

A request row has ``provider_id``, a status (``pending``, then one decision), the user who made
it, and ``decided_by_id`` / ``decided_at`` / ``decision_reason``. :func:`decidable` locks the
provider (``FOR NO KEY UPDATE``) and then the row — the same lock order for every kind — and
refuses a decider of the wrong role, the maker deciding their own request, and a request that
is no longer pending. :func:`providers.notices.tell_provider` e-mails the provider's users the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError, NotFound, PermissionDenied
from providers.models import Provider
from providers.services import get_provider

PENDING = "pending"


@dataclass(frozen=True)
class Checker:
    """How one kind of request is decided: by whom, and the words of each refusal."""

    model: type[Any]
    decider: Role
    not_found: str
    wrong_role: str
    self_review: Callable[[], DomainError]
    not_pending: Callable[[Enum], DomainError]
    status_attr: str = "status"
    maker_attr: str = "requested_by_id"


def decidable(
    session: Session, checker: Checker, row_id: int, actor_id: int | None
) -> tuple[Provider, Any]:
    """The locked provider and pending request ``row_id``, once the actor may decide it.

    Raises NotFound, PermissionDenied (not the deciding role), the checker's self-review
    error, its not-pending error.
    """
    found = session.get(checker.model, row_id)
    if found is None:
        raise NotFound(checker.not_found)
    provider = get_provider(session, found.provider_id, lock=True)
    row = session.get(checker.model, row_id, with_for_update=True, populate_existing=True)
    assert row is not None  # the provider's lock keeps its rows
    decider = session.get(User, actor_id) if actor_id is not None else None
    if decider is None or decider.role is not checker.decider:
        raise PermissionDenied(checker.wrong_role)
    maker = getattr(row, checker.maker_attr)
    if maker is not None and maker == actor_id:
        raise checker.self_review()
    status = getattr(row, checker.status_attr)
    if status.value != PENDING:
        raise checker.not_pending(status)
    return provider, row


def stamp(
    row: Any, checker: Checker, status: Enum, actor_id: int | None, reason: str | None
) -> None:
    """Record the decision on the request row (the caller flushes)."""
    setattr(row, checker.status_attr, status)
    row.decided_by_id = actor_id
    row.decided_at = utcnow()
    row.decision_reason = reason
