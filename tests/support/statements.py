"""Count the round trips one piece of work makes to the database.

``count_statements(engine)`` records every statement the engine sends (SQLAlchemy's
``before_cursor_execute``: queries, BEGIN IMMEDIATE on SQLite, SAVEPOINTs) plus each COMMIT and
ROLLBACK (DBAPI calls that never pass through a cursor) and each pool checkout (where a
pre-ping, if configured, would add a round trip). The lean-path test holds the accept to the
count reached, so extra queries cannot creep back unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass
class Statements:
    sql: list[str] = field(default_factory=list)
    checkouts: int = 0

    @property
    def count(self) -> int:
        return len(self.sql)

    def matching(self, prefix: str) -> list[str]:
        return [s for s in self.sql if s.lstrip().upper().startswith(prefix.upper())]

    def listing(self) -> str:
        return "\n".join(f"{n:3d} {s.splitlines()[0][:160]}" for n, s in enumerate(self.sql, 1))


@contextmanager
def count_statements(engine: Engine) -> Iterator[Statements]:
    seen = Statements()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.sql.append(" ".join(statement.split()))

    def on_commit(_conn: Any) -> None:
        seen.sql.append("COMMIT")

    def on_rollback(_conn: Any) -> None:
        seen.sql.append("ROLLBACK")

    def on_checkout(*_args: Any) -> None:
        seen.checkouts += 1

    listeners = [
        (engine, "before_cursor_execute", on_execute),
        (engine, "commit", on_commit),
        (engine, "rollback", on_rollback),
        (engine.pool, "checkout", on_checkout),
    ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield seen
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
