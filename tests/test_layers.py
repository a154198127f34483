"""The arrows between the application's packages run one way: core ← gis ← events ← dispatch ← web ← citygrid.

Every import of every module is read (top-level and inside functions, `from x import y` and `import x.y`), so a
lazy import against the order fails too. The guard before this one only looked for the word fastapi."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("core", "gis", "events", "dispatch", "web", "citygrid")  # each may import those before it, never those after


# Inside dispatch/: its sub-packages and modules, each may import those before it (an import only for type
# checking, under `if TYPE_CHECKING:`, is no arrow).
DISPATCH_ORDER = ("roles", "models", "permissions", "actor", "accounts", "api_clients", "routing", "casework",
                  "reporting", "exchange", "intake", "worker")


def imports(path: Path) -> set[tuple[str, int]]:
    """(dotted module, line) of every absolute import in a module, outside `if TYPE_CHECKING:` blocks; for
    `from package import name`, the module is package.name (a sub-module or a name in the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {(alias.name, node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {(f"{node.module}.{alias.name}", node.lineno) for alias in node.names}
    return found


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import in a module."""
    return {(module.split(".")[0], line) for module, line in imports(path)}


def arrows_against_the_order() -> list[str]:
    wrong = []
    for rank, package in enumerate(ORDER):
        later = set(ORDER[rank + 1:])
        for path in sorted((ROOT / package).rglob("*.py")):
            wrong += [f"{path.relative_to(ROOT)}:{line} imports {target}"
                      for target, line in sorted(imported_packages(path)) if target in later]
    return wrong


def test_no_package_imports_one_above_it():
    assert arrows_against_the_order() == []


def test_inside_dispatch_the_arrows_run_down_its_capabilities():
    rank = {name: i for i, name in enumerate(DISPATCH_ORDER)}
    wrong, unplaced = [], set()
    for path in sorted((ROOT / "dispatch").rglob("*.py")):
        parts = path.relative_to(ROOT / "dispatch").with_suffix("").parts
        if parts == ("__init__",):
            continue
        unit = parts[0]
        if unit not in rank:
            unplaced.add(unit)
            continue
        for module, line in sorted(imports(path)):
            target = module.split(".")
            if target[0] == "dispatch" and len(target) > 1 and target[1] != unit:
                if target[1] not in rank:
                    unplaced.add(target[1])
                elif rank[target[1]] > rank[unit]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} ({unit}) imports {target[1]}")
    assert unplaced == set(), "give each part of dispatch/ its place in DISPATCH_ORDER"
    assert wrong == []


@pytest.mark.parametrize("target", ["events", "web"])
def test_the_guard_sees_a_lazy_import_against_the_order(tmp_path, target):
    probe = tmp_path / "probe.py"
    probe.write_text(f"def later():\n    from {target}.x import y\n    import {target}.z\n", encoding="utf-8")
    assert imported_packages(probe) == {(target, 2), (target, 3)}


def test_the_guard_skips_imports_made_for_type_checking_only(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web.x import y\n", encoding="utf-8")
    assert imported_packages(probe) == {("typing", 1)}
