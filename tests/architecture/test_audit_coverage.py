"""Every state change and every money movement leaves an audit record in its transaction.

Read from the code: a function that moves a state machine (``X.move(...)``) or posts to the
ledger (``ledger.post(...)``) must record (``record(...)``, or a helper that records), or be
called only from functions that do — followed through the call graph of the services, so a
new service that changes state without recording fails here. The few moves that are not the
platform's decisions are listed with their reason.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from tests.architecture.test_layers import ROOT, source_files

#: (file, function) that change state without an audit record, each with its reason.
EXEMPT: dict[tuple[str, str], str] = {
    ("marketplace/jobs/tracked.py", "finish"): (
        "a background job's own progress record (queued, running, done): the job row is the "
        "record, and the work it does (a bulk issuance …) writes its own audit records"
    ),
    ("marketplace/jobs/tracked.py", "sweep"): (
        "ends jobs their worker abandoned: the job row is the record (as for finish)"
    ),
    ("marketplace/notifications/services.py", "deliver"): (
        "an e-mail's delivery: the outbox row is the record; nothing of the platform changes"
    ),
}
RECORDERS = frozenset({"record"})
#: Pages and the API call services; they are not services themselves.
NOT_SERVICES = ("marketplace/web/", "marketplace/api/", "marketplace/demo.py")


def _called_name(node: ast.Call) -> tuple[str | None, str | None]:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id, None
    if isinstance(func, ast.Attribute):
        base = func.value
        base_name = (
            base.id
            if isinstance(base, ast.Name)
            else base.attr
            if isinstance(base, ast.Attribute)
            else None
        )
        return func.attr, base_name
    return None, None


def _functions(extra: Mapping[str, str] | None = None) -> dict[tuple[str, str], ast.FunctionDef]:
    """Every service function, by (file, name); ``extra`` adds modules given as source text."""
    sources = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in source_files()
    }
    sources.update(extra or {})
    found = {}
    for relative, source in sources.items():
        if relative.startswith(NOT_SERVICES):
            continue
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                found[(relative, node.name)] = node
    return found


def _analyse(
    extra: Mapping[str, str] | None = None,
) -> tuple[set[tuple[str, str]], dict[tuple[str, str], set[str]], dict[str, set[tuple[str, str]]]]:
    """(functions that change state, names each function calls, callers of each name)."""
    changing: set[tuple[str, str]] = set()
    calls: dict[tuple[str, str], set[str]] = defaultdict(set)
    callers: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key, node in _functions(extra).items():
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            name, base = _called_name(call)
            if name is None:
                continue
            calls[key].add(name)
            callers[name].add(key)
            if (name == "move" and base is not None) or (name == "post" and base == "ledger"):
                changing.add(key)
    return changing, calls, callers


def uncovered(extra: Mapping[str, str] | None = None) -> list[str]:
    changing, calls, callers = _analyse(extra)
    # Names of functions that record, directly or through a helper that does.
    recorders = set(RECORDERS)
    grew = True
    while grew:
        grew = False
        for (_path, name), called in calls.items():
            if name not in recorders and called & recorders:
                recorders.add(name)
                grew = True
    covered: dict[tuple[str, str], bool] = {}

    def is_covered(key: tuple[str, str], seen: frozenset[tuple[str, str]]) -> bool:
        """It records, or every function calling it is covered (it runs inside one)."""
        if calls[key] & recorders or key in EXEMPT:
            return True
        if key in covered:
            return covered[key]
        if key in seen:
            return False
        sites = callers.get(key[1], set())
        result = bool(sites) and all(is_covered(site, seen | {key}) for site in sites)
        covered[key] = result
        return result

    return sorted(
        f"{path}: {name}()" for path, name in changing if not is_covered((path, name), frozenset())
    )


def test_every_state_change_and_money_movement_records():
    missing = uncovered()
    assert not missing, "state changed without an audit record:\n  " + "\n  ".join(missing)


def test_the_check_would_catch_a_service_that_forgets():
    # Given as text, never written into the tree: other workers scan the tree meanwhile.
    rogue = "def sneaky(session, voucher):\n    VOUCHER.move(voucher, 'revoke')\n"
    assert "vouchers/_rogue.py: sneaky()" in uncovered({"vouchers/_rogue.py": rogue})
    assert "vouchers/_rogue.py: sneaky()" not in uncovered()


def test_exemptions_name_real_functions():
    functions = _functions()
    for key in EXEMPT:
        assert key in functions, f"stale exemption {key}"
    assert all(Path(ROOT / path).exists() for path, _ in EXEMPT)
