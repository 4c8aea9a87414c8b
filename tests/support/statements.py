"""Count the round trips one piece of work makes to the database.

``count_statements(engine)`` records every statement the engine sends (SQLAlchemy's
``before_cursor_execute``: queries, BEGIN IMMEDIATE on SQLite, SAVEPOINTs), the BEGIN psycopg
sends by itself before the first statement of a transaction, each COMMIT and ROLLBACK that
reaches the server (DBAPI calls that never pass through a cursor; psycopg sends none when no
transaction is open) and each pool checkout (where a pre-ping, if configured, would add a round
trip). What is counted is what goes over the wire. The lean-path test holds the accept to the
count reached, so extra queries cannot creep back unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


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


def _transaction_open(conn: Connection) -> bool:
    driver_conn = conn.connection.dbapi_connection
    if isinstance(driver_conn, psycopg.Connection):
        return driver_conn.info.transaction_status is not psycopg.pq.TransactionStatus.IDLE
    return bool(getattr(driver_conn, "in_transaction", True))


def _psycopg_begins(conn: Connection) -> bool:
    """Whether psycopg will send BEGIN before the statement about to run (it does so by itself
    when no transaction is open, unless the connection is in autocommit)."""
    driver_conn = conn.connection.dbapi_connection
    return (
        isinstance(driver_conn, psycopg.Connection)
        and not driver_conn.autocommit
        and not _transaction_open(conn)
    )


@contextmanager
def count_statements(engine: Engine) -> Iterator[Statements]:
    seen = Statements()

    def on_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if _psycopg_begins(conn):
            seen.sql.append("BEGIN")
        seen.sql.append(" ".join(statement.split()))

    def on_commit(conn: Connection) -> None:
        if _transaction_open(conn):
            seen.sql.append("COMMIT")

    def on_rollback(conn: Connection) -> None:
        if _transaction_open(conn):
            seen.sql.append("ROLLBACK")

    def on_checkout(*_args: Any) -> None:
        seen.checkouts += 1

    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
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
