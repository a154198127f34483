"""The top-level packages are this repository's, not PyPI's namesakes."""
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_domain_packages_resolve_into_this_repository():
    for name in ("core", "gis", "events", "dispatch", "web", "citygrid"):
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().parent == ROOT / name, name


def test_only_web_imports_fastapi():
    offenders = [
        str(path.relative_to(ROOT)) for pkg in ("gis", "events", "dispatch")
        for path in (ROOT / pkg).rglob("*.py") if "fastapi" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
