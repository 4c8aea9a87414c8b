"""Maker-checker for what a provider changes once its file was reviewed: the steps every such
request shares, whoever decides it.

* :mod:`providers.bank_changes` — the settlement account, decided by a finance officer;
* :mod:`providers.evidence` — documents and qualification numbers, decided by a reviewer;
* :mod:`providers.related` — withdrawals of related-party declarations, decided by a reviewer.

A request row has ``provider_id``, a status its kind's machine moves (``pending``, then one
decision, or superseded by a newer request; :mod:`providers.rules`), the user who made it, and
``decided_by_id`` / ``decided_at`` / ``decision_reason``. :func:`decidable` locks the provider
(``FOR NO KEY UPDATE``) and then the row — the same lock order for every kind — and refuses a
decider of the wrong role, the maker deciding their own request, and a request that is no
longer pending. :func:`stamp` is the one place a request's status changes.
:func:`providers.notices.tell_provider` e-mails the provider's users the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.statemachine import StateMachine
from providers.enums import ReviewAction
from providers.models import Provider
from providers.services import get_provider


@dataclass(frozen=True)
class Checker:
    """How one kind of request is decided: its machine (whose refusal names a request that is
    no longer pending), by whom, and the words of the other refusals."""

    model: type[Any]
    machine: StateMachine[Any, ReviewAction]
    decider: Role
    not_found: str
    wrong_role: str
    self_review: Callable[[], DomainError]
    maker_attr: str = "requested_by_id"


def decidable(
    session: Session, checker: Checker, row_id: int, actor_id: int | None, action: ReviewAction
) -> tuple[Provider, Any]:
    """The locked provider and request ``row_id``, once the actor may take ``action`` on it.

    Raises NotFound, PermissionDenied (not the deciding role), the checker's self-review
    error, its machine's refusal (no longer pending).
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
    checker.machine.next(getattr(row, checker.machine.attribute), action)
    return provider, row


def stamp(
    row: Any, checker: Checker, action: ReviewAction, actor_id: int | None, reason: str | None
) -> None:
    """Move the request by ``action`` and record who decided, when and why (the caller
    flushes). Raises the machine's refusal (nothing changed)."""
    checker.machine.move(row, action)
    row.decided_by_id = actor_id
    row.decided_at = utcnow()
    row.decision_reason = reason


def supersede(row: Any, checker: Checker) -> None:
    """The maker asked for something else while ``row`` waited: nobody decided it, so it
    keeps no decider and no reason (the caller flushes)."""
    stamp(row, checker, ReviewAction.SUPERSEDE, None, None)
