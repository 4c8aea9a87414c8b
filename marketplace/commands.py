"""The one loop of the periodic commands: each item in its own transaction.

``flask orders auto-confirm``, ``vouchers expire``, ``providers admit-due`` /
``suspend-lapsed`` and ``settlement settle`` each act on a list of items read at the start.
:func:`each_in_its_own_transaction` runs one item at a time and commits it, so an interrupted
run loses nothing and a re-run finds only what is left. An item that fails — a domain error
(it was disputed meanwhile, say) or anything unexpected — is rolled back and reported with its
id, and the run goes on with the next; the command then exits with status 1. On a terminal the
run shows a progress bar.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import click
from sqlalchemy.orm import Session

from marketplace.db import commit, db_session, rollback
from marketplace.errors import DomainError, watch_failures

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ItemFailure:
    item_id: object
    code: str
    message: str


@dataclass
class LoopReport(Generic[R]):
    """What a run did: the results of the items that committed, and the items that failed."""

    results: list[R] = field(default_factory=list)
    failures: list[ItemFailure] = field(default_factory=list)

    def echo_failures(self) -> None:
        for failure in self.failures:
            click.echo(f"  failed: {failure.item_id}: {failure.code} — {failure.message}", err=True)

    def exit_status(self) -> None:
        """End the command: list the failures and exit with status 1 if there were any."""
        if self.failures:
            self.echo_failures()
            click.echo(f"{len(self.failures)} item(s) failed", err=True)
            sys.exit(1)


def each_in_its_own_transaction(
    items: Sequence[T],
    work: Callable[[Session, T], R],
    *,
    label: str,
    item_id: Callable[[T], object] = lambda item: item,
) -> LoopReport[R]:
    """Run ``work(session, item)`` for every item, committing each on its own.

    A failing item is rolled back and recorded (with ``item_id(item)``); so is an item during
    which a domain error was raised and not recovered from, even if ``work`` caught it — the
    same rule as a web request's (:mod:`marketplace.errors`).
    """
    session = db_session()
    report: LoopReport[R] = LoopReport()
    try:
        with click.progressbar(items, label=label, show_pos=True) as bar:
            for item in bar:
                with watch_failures() as watch:
                    try:
                        result = work(session, item)
                    except DomainError as exc:
                        rollback(session)
                        report.failures.append(ItemFailure(item_id(item), exc.code, exc.message))
                        continue
                    except Exception as exc:
                        rollback(session)
                        log.exception("%s: item %s failed", label, item_id(item))
                        report.failures.append(
                            ItemFailure(item_id(item), type(exc).__name__, str(exc))
                        )
                        continue
                    if watch.failed:
                        swallowed = watch.unrecovered[0]
                        rollback(session)
                        report.failures.append(
                            ItemFailure(item_id(item), swallowed.code, swallowed.message)
                        )
                        continue
                commit(session)
                report.results.append(result)
    finally:
        rollback(session)  # whatever was read after the last commit
    return report
