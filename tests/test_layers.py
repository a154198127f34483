"""The arrows between the application's packages run one way: core ← gis ← events ← dispatch ← web ← citygrid.

Every import of every module is read (top-level and inside functions, `from x import y` and `import x.y`), so a
lazy import against the order fails too. The guard before this one only looked for the word fastapi."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("core", "gis", "events", "dispatch", "web", "citygrid")  # each may import those before it, never those after


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import in a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


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


@pytest.mark.parametrize("target", ["events", "web"])
def test_the_guard_sees_a_lazy_import_against_the_order(tmp_path, target):
    probe = tmp_path / "probe.py"
    probe.write_text(f"def later():\n    from {target}.x import y\n    import {target}.z\n", encoding="utf-8")
    assert imported_packages(probe) == {(target, 2), (target, 3)}
