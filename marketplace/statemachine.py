"""One pattern for every state machine: a transition table, one function that applies it.

Each machine is declared once, in its domain's ``rules.py``, next to its statuses::

    ORDER = StateMachine(
        "order",
        {(S.REQUESTED, A.QUOTE): S.QUOTED, (S.QUOTED, A.ACCEPT): S.AGREED, ...},
        refuse=lambda status, action: IllegalTransition(...),
    )

* :meth:`StateMachine.next` answers the status a move leads to, or raises the machine's own
  named error (built by ``refuse``) when the table has no such move;
* :meth:`StateMachine.move` is **the only writer** of an entity's status: it sets the attribute
  the machine owns (``status`` unless told otherwise) and returns the status before and after.
  Nothing else in the code base assigns a status (``tests/architecture`` reads the code and
  fails on any other assignment); a new row gets its first status from its constructor;
* :meth:`StateMachine.allows` and :meth:`StateMachine.actions_from` answer without raising, for
  buttons on pages, links in the API, and news that is simply ignored when it comes too late
  (a payment gateway's out-of-order events).

A table key whose state is ``None`` is a creation: the action makes a new entity in the target
state (a voucher application submitted, or issued in bulk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, Generic, TypeVar

from marketplace.errors import Conflict, DomainError

S = TypeVar("S", bound=Enum)
A = TypeVar("A", bound=Enum)


class IllegalMove(Conflict):
    """The default refusal, for machines whose domain has no more specific error."""

    code = "illegal_transition"
    title = "This step is not possible in the current state"


def _default_refusal(name: str) -> Callable[[Any, Any], DomainError]:
    def refuse(status: Enum | None, action: Enum) -> DomainError:
        state = "new" if status is None else str(status.value)
        return IllegalMove(
            f"{name}: cannot {action.value} from {state}",
            extra={"state": state, "action": str(action.value)},
        )

    return refuse


class StateMachine(Generic[S, A]):
    """A transition table ``(state, action) → state`` and the one function that applies it."""

    def __init__(
        self,
        name: str,
        transitions: Mapping[tuple[S, A], S] | Mapping[tuple[S | None, A], S],
        *,
        refuse: Callable[[S | None, A], DomainError] | None = None,
        attribute: str = "status",
    ) -> None:
        self.name = name
        self.transitions: Mapping[tuple[S | None, A], S] = {
            move: target for move, target in transitions.items()
        }
        self.attribute = attribute
        self._refuse = refuse or _default_refusal(name)

    # ------------------------------------------------------------------ reading the table

    def next(self, status: S | None, action: A) -> S:
        """The status ``action`` leads to from ``status``; the machine's error when none."""
        target = self.transitions.get((status, action))
        if target is None:
            raise self._refuse(status, action)
        return target

    def allows(self, status: S | None, action: A) -> bool:
        return (status, action) in self.transitions

    def actions_from(self, status: S | None, among: Iterable[A] | None = None) -> list[A]:
        """The actions possible from ``status``, in table order (only those in ``among``)."""
        wanted = None if among is None else set(among)
        return [a for (s, a) in self.transitions if s == status and (wanted is None or a in wanted)]

    @property
    def states(self) -> frozenset[S]:
        sources = {s for (s, _a) in self.transitions if s is not None}
        return frozenset(sources | set(self.transitions.values()))

    # ------------------------------------------------------------------ the one writer

    def move(self, entity: Any, action: A) -> tuple[S, S]:
        """Apply ``action`` to ``entity``: set its status to the next one, return (before, after).

        Raises the machine's error (and changes nothing) when the move is not in the table.
        """
        before: S = getattr(entity, self.attribute)
        after = self.next(before, action)
        setattr(entity, self.attribute, after)
        return before, after

    def __repr__(self) -> str:
        return f"<StateMachine {self.name}: {len(self.transitions)} moves>"
