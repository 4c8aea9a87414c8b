"""The house plan, enforced: every import points down the layer rule (README, "Architecture").

    kernel < vouchers < providers, payments < orders < settlement, instruments
    < risk, outcomes < disclosure < web, api < app

A module imports from its own package or from a lower layer. Two packages on one layer stay
independent of each other (providers and payments; the pages and the API), so neither can grow
a cycle through the other. Every import counts: at the top of a module, inside a function and
under ``TYPE_CHECKING`` alike.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("marketplace", "vouchers", "providers")

#: (layer, rank, module prefixes). The longest matching prefix decides a module's layer.
LAYERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("kernel", 0, ("marketplace",)),
    ("vouchers", 1, ("vouchers",)),
    ("providers", 2, ("providers",)),
    ("payments", 2, ("marketplace.payments",)),
    ("orders", 3, ("marketplace.orders",)),
    ("settlement", 4, ("marketplace.settlement",)),
    # Bookings become orders; nothing below reads them.
    ("instruments", 4, ("marketplace.instruments",)),
    # Risk flags and outcomes read orders and claims; the dashboards (disclosure) read them.
    ("risk", 5, ("marketplace.risk",)),
    ("outcomes", 5, ("marketplace.outcomes",)),
    ("disclosure", 6, ("marketplace.disclosure",)),
    ("web", 7, ("marketplace.web",)),
    ("api", 7, ("marketplace.api",)),
    (
        "app",
        8,
        (
            "marketplace.__init__",
            "marketplace.cli",
            "marketplace.demo",
            "marketplace.models",
            # Operations (issue 17): backups, the drill and the metrics see every domain.
            "marketplace.ops",
        ),
    ),
)

#: Imports that break the rule today, as (importer, imported) module pairs. Empty: the rule
#: holds everywhere; a new breach fails, and so does an entry here that no longer breaks it.
ALLOWED_BREACHES: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    """Dotted name; a package's ``__init__`` keeps its suffix, so that ``marketplace.__init__``
    (the app shell) is told apart from the kernel modules beside it."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def layer_of(module: str) -> tuple[str, int]:
    best: tuple[int, str, int] = (-1, "", -1)
    for name, rank, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), name, rank)
    if best[0] < 0:
        raise AssertionError(f"{module} is in no layer")
    return best[1], best[2]


@cache
def source_files() -> tuple[Path, ...]:
    return tuple(sorted(f for p in PACKAGES for f in (ROOT / p).rglob("*.py")))


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _package_of(module: str) -> str:
    return module if module.endswith(".__init__") else module.rpartition(".")[0]


def imports_of(path: Path, source: str | None = None) -> list[Import]:
    importer = module_name(path)
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(importer, alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(importer).removesuffix(".__init__").split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.append(
                    Import(importer, candidate if _is_module(candidate) else source, node.lineno)
                )
    own = {
        Import(
            i.importer, f"{i.imported}.__init__" if _is_package(i.imported) else i.imported, i.line
        )
        for i in found
        if i.imported.split(".")[0] in PACKAGES
    }
    return sorted(own, key=lambda i: (i.line, i.imported))


def _is_package(dotted: str) -> bool:
    return (ROOT.joinpath(*dotted.split(".")) / "__init__.py").exists()


def is_breach(imp: Import) -> bool:
    src_layer, src_rank = layer_of(imp.importer)
    dst_layer, dst_rank = layer_of(imp.imported)
    return src_layer != dst_layer and dst_rank >= src_rank


def breaches() -> list[Import]:
    return [imp for path in source_files() for imp in imports_of(path) if is_breach(imp)]


def test_every_module_has_a_layer():
    for path in source_files():
        layer_of(module_name(path))


def test_imports_point_down_the_layers():
    found = [b for b in breaches() if (b.importer, b.imported) not in ALLOWED_BREACHES]
    assert not found, "imports against the layer rule:\n" + "\n".join(
        f"  {b.importer}:{b.line} -> {b.imported}"
        f"  ({layer_of(b.importer)[0]} may not import {layer_of(b.imported)[0]})"
        for b in found
    )


def test_the_allow_list_only_holds_live_breaches():
    stale = ALLOWED_BREACHES - {(b.importer, b.imported) for b in breaches()}
    assert not stale, f"no longer breaches, remove from ALLOWED_BREACHES: {sorted(stale)}"


def late_imports(path: Path, source: str | None = None) -> list[int]:
    """Lines of module-level imports below the module's first function or class: the place
    imports go to dodge a cycle."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    seen_definition = False
    late = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            seen_definition = True
        elif isinstance(node, ast.Import | ast.ImportFrom) and seen_definition:
            late.append(node.lineno)
    return late


def test_no_import_below_the_definitions():
    found = [f"  {p.relative_to(ROOT)}:{line}" for p in source_files() for line in late_imports(p)]
    assert not found, "imports below a definition:\n" + "\n".join(found)


def test_a_late_import_is_caught():
    source = "import os\n\n\ndef f():\n    import sys\n\n\nfrom x import y  # noqa: E402\n"
    assert late_imports(ROOT / "x.py", source) == [8]


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("marketplace.__init__", "app"),
        ("marketplace.cli", "app"),
        ("marketplace.db", "kernel"),
        ("marketplace.auth.models", "kernel"),
        ("vouchers.holds", "vouchers"),
        ("providers.search", "providers"),
        ("marketplace.payments.services", "payments"),
        ("marketplace.orders.services", "orders"),
        ("marketplace.settlement.claims", "settlement"),
        ("marketplace.disclosure.services", "disclosure"),
        ("marketplace.web.admin.views", "web"),
        ("marketplace.api.orders", "api"),
    ],
)
def test_layer_table(module, layer):
    assert layer_of(module)[0] == layer


@pytest.mark.parametrize(
    ("where", "source", "breach"),
    [
        # upward, at the top, in a function, and only for type checking: all caught
        ("marketplace/money.py", "from vouchers.models import Voucher\n", True),
        ("vouchers/holds.py", "def f():\n    from providers import models\n", True),
        (
            "providers/search.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from marketplace.orders.models import Order\n",
            True,
        ),
        # siblings on one layer stay apart
        ("providers/search.py", "from marketplace.payments import services\n", True),
        ("marketplace/web/public/views.py", "from marketplace.api import endpoint\n", True),
        # relative imports resolve like absolute ones
        ("marketplace/orders/services.py", "from ..settlement import claims\n", True),
        # downward and within the package: fine
        ("marketplace/settlement/claims.py", "from marketplace.orders import services\n", False),
        ("marketplace/orders/services.py", "from . import rules\n", False),
        ("marketplace/api/orders.py", "import marketplace.db\n", False),
    ],
)
def test_the_checker_catches_what_it_should(where, source, breach):
    found = [i for i in imports_of(ROOT / where, source) if is_breach(i)]
    assert bool(found) is breach, found
