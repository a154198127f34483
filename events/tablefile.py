"""Reading and writing the reference tables (categories, departments, rules) as CSV or YAML."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import yaml

from core.errors import InvalidInput


def read_rows(path: str | os.PathLike, *, columns: tuple[str, ...], required: tuple[str, ...],
              error: type[InvalidInput]) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV or YAML file; every value a stripped string ('' when empty)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}") from None
    rows = _yaml(text, path, error) if path.suffix.lower() in (".yaml", ".yml") else _csv(text, path, error)
    if not rows:
        raise error(f"{path}: nothing imported: the file has no rows")
    missing = [c for c in required if c not in rows[0][1]]
    if missing:
        raise error(f"{path} lacks column(s) {', '.join(missing)}; it needs {', '.join(required)}")
    unknown = sorted({k for _, row in rows for k in row} - set(columns))
    if unknown:
        raise error(f"{path} has unknown column(s) {', '.join(unknown)}; known: {', '.join(columns)}")
    return rows


def _csv(text: str, path: Path, error) -> list[tuple[int, dict]]:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    try:
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        return [(n, {k.strip(): (v or "").strip() for k, v in row.items() if k})
                for n, row in enumerate(reader, start=2)]
    except csv.Error as exc:
        raise error(f"{path} is not valid CSV: {exc}") from None


def _yaml(text: str, path: Path, error) -> list[tuple[int, dict]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise error(f"{path}: a YAML table must be a list of mappings")
    return [(n, {str(k): _text(v) for k, v in row.items()}) for n, row in enumerate(data, start=1)]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def write_rows(path: str | os.PathLike, *, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Write rows as CSV, or as YAML when the name ends in .yaml/.yml."""
    path = Path(path)
    clean = [{c: ("" if r.get(c) is None else r[c]) for c in columns} for r in rows]
    if path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(clean, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(clean)


def boolean(value: str) -> bool | None:
    """'true'/'false' (also yes/no, 1/0) → bool; anything else None."""
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(value.lower())
