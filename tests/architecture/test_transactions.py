"""One transaction boundary per request, command and job: only the boundaries commit or roll
back (``marketplace/db.py`` for requests, jobs and single-transaction commands,
``marketplace/commands.py`` for the per-item loops). Services flush; views and endpoints
never roll back by hand — a domain error fails the request wherever it was caught."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.architecture.test_layers import ROOT, source_files

BOUNDARIES = {ROOT / "marketplace" / "db.py", ROOT / "marketplace" / "commands.py"}
#: Calls outside the boundaries, each with its reason: (file, function called).
ALLOWED = {
    ("marketplace/api/idempotency.py", "rollback"): (
        "a concurrent request with the same Idempotency-Key committed first: nothing of this "
        "request was written yet, and its response is replayed"
    ),
    ("marketplace/cli.py", "rollback"): (
        "`audit verify` and `audit export-checkpoint` only read: they end their read transaction"
    ),
    ("marketplace/settlement/cli.py", "rollback"): (
        "`ledger verify` only reads: it ends its read transaction"
    ),
}
TRANSACTION_CALLS = frozenset({"commit", "rollback"})


def transaction_calls(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            if name in TRANSACTION_CALLS:
                found.append((node.lineno, name))
    return found


def test_only_the_boundaries_commit_or_roll_back():
    stray = []
    for path in source_files():
        if path in BOUNDARIES:
            continue
        relative = str(path.relative_to(ROOT))
        for line, name in transaction_calls(path):
            if (relative, name) not in ALLOWED:
                stray.append(f"  {relative}:{line}: {name}()")
    assert not stray, "commit or rollback outside a transaction boundary:\n" + "\n".join(stray)


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("rollback(session)\n", ["rollback"]),
        ("session.rollback()\n", ["rollback"]),
        ("db.commit(session)\n", ["commit"]),
        ("after_commit(session, send)\n", []),
        ("session.begin_nested()\n", []),
    ],
)
def test_the_reader_catches_what_it_should(source, found):
    assert [name for _line, name in transaction_calls(ROOT / "x.py", source)] == found
