"""One writer per status: every status changes through its machine's ``move``
(:class:`marketplace.statemachine.StateMachine`), never by assignment elsewhere.

The test reads the code: an assignment to a status attribute, or a ``setattr`` that could
write one, anywhere but ``marketplace/statemachine.py`` fails it. A new row still gets its
first status from its constructor (keyword arguments are not assignments).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.architecture.test_layers import ROOT, source_files

STATUS_ATTRIBUTES = frozenset({"status", "verification_status", "review_status"})
THE_WRITER = ROOT / "marketplace" / "statemachine.py"

#: Writes that are not moves, each with its reason: (file, the line's code).
NOT_MOVES: dict[tuple[str, str], str] = {
    (
        "marketplace/settlement/claims.py",
        "claim.status = rules.claim_status(line.status for line in claim.lines)",
    ): "derived: a claim's status is computed from its lines, which move by their machine",
    ("providers/bank_changes.py", "setattr(provider, name, getattr(change, name))"): (
        "copies the bank-account fields (a fixed tuple without status) onto the provider"
    ),
    ("providers/services.py", "setattr(provider, name, values[name])"): (
        "profile edit: the names are the profile fields, a fixed tuple without status"
    ),
    ("vouchers/enterprises.py", "setattr(enterprise, name, value)"): (
        "profile edit: the names are the profile fields, a fixed tuple without status"
    ),
    ("vouchers/programmes.py", "setattr(programme, name, value)"): (
        "programme edit: the names are the editable fields, a fixed tuple without status"
    ),
}


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    code: str


def status_writes(path: Path, source: str | None = None) -> list[Write]:
    text = path.read_text(encoding="utf-8") if source is None else source
    lines = text.splitlines()
    found: list[Write] = []

    def add(node: ast.AST) -> None:
        lineno = getattr(node, "lineno", 0)
        found.append(Write(str(path.relative_to(ROOT)), lineno, lines[lineno - 1].strip()))

    for node in ast.walk(ast.parse(text)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if (
                    isinstance(sub, ast.Attribute)
                    and sub.attr in STATUS_ATTRIBUTES
                    and isinstance(sub.ctx, ast.Store)
                    and not (isinstance(sub.value, ast.Name) and sub.value.id == "self")
                ):
                    add(node)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
        ):
            name = node.args[1]
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                add(node)  # a name we cannot read: it could be a status
            elif name.value in STATUS_ATTRIBUTES:
                add(node)
    return found


def all_writes() -> list[Write]:
    return [w for path in source_files() if path != THE_WRITER for w in status_writes(path)]


def test_statuses_change_only_through_their_machine():
    stray = [w for w in all_writes() if (w.path, w.code) not in NOT_MOVES]
    assert not stray, "status written outside its state machine:\n" + "\n".join(
        f"  {w.path}:{w.line}: {w.code}" for w in stray
    )


def test_the_list_of_exceptions_only_holds_live_writes():
    live = {(w.path, w.code) for w in all_writes()}
    stale = set(NOT_MOVES) - live
    assert not stale, f"no longer written, remove from NOT_MOVES: {sorted(stale)}"


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("order.status = OrderStatus.PAID\n", True),
        ("a.b.verification_status = x\n", True),
        ("row.review_status: Status = x\n", True),
        ("setattr(row, 'status', x)\n", True),
        ("setattr(row, checker.attribute, x)\n", True),  # cannot tell: refused
        ("setattr(row, 'note', x)\n", False),
        ("order.version += 1\n", False),
        ("Order(status=OrderStatus.REQUESTED)\n", False),
        ("class E(Exception):\n    def __init__(self):\n        self.status = 409\n", False),
        ("status = order.status\n", False),
    ],
)
def test_the_reader_catches_what_it_should(source, caught):
    assert bool(status_writes(ROOT / "marketplace" / "x.py", source)) is caught
