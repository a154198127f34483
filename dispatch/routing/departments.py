"""Departments as data: district bureaus (条线) and street-level units (属地), loaded from CSV or YAML."""
from __future__ import annotations

import os
import re

import psycopg

from core.errors import InvalidInput
from dispatch.routing import repo
from events.tablefile import read_rows, write_rows

COLUMNS = ("code", "name", "kind", "unit_type", "parent_code", "street_code")


class DepartmentFileError(InvalidInput):
    """A department table that cannot be loaded."""


def import_departments(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    """Load a department table, all or nothing; existing codes are updated, none are deleted."""
    rows = read_rows(path, columns=COLUMNS, required=COLUMNS[:4], error=DepartmentFileError)
    known = {d.code for d in repo.departments(conn)} | {r["code"] for _, r in rows}
    streets = repo.active_streets(conn)
    problems = [f"line {n}: {p}" for n, r in rows for p in _problems(r, known, streets)]
    codes = [r["code"] for _, r in rows]
    problems += [f"code {c} appears more than once" for c in sorted({c for c in codes if codes.count(c) > 1})]
    pairs = [(r["street_code"], r["unit_type"]) for _, r in rows if r["kind"] == "street"]
    problems += [f"street {s} has more than one {t}" for s, t in sorted({p for p in pairs if pairs.count(p) > 1})]
    if problems:
        raise DepartmentFileError(f"{path}: nothing imported: " + "; ".join(problems[:20]))
    repo.upsert_departments(conn, rows=[{c: (r.get(c) or None) for c in COLUMNS} for _, r in rows])
    return len(rows)


def _problems(r: dict, known: set[str], streets: dict[str, str]) -> list[str]:
    out = []
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", r["code"]):
        out.append(f"code {r['code']!r} must be 1-40 letters, digits, '-' or '_'")
    if not r["name"] or not r["unit_type"]:
        out.append(f"{r['code']}: name and unit_type are required")
    if r["kind"] not in ("bureau", "street"):
        out.append(f"{r['code']}: kind must be bureau (条线) or street (属地), not {r['kind']!r}")
    street = r.get("street_code", "")
    if r["kind"] == "street" and street not in streets:
        out.append(f"{r['code']}: street_code {street!r} is not a street of the active grid release")
    if r["kind"] == "bureau" and street:
        out.append(f"{r['code']}: a district bureau has no street_code")
    if r.get("parent_code") and r["parent_code"] not in known:
        out.append(f"{r['code']}: unknown parent_code {r['parent_code']!r}")
    return out


def export_departments(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    """Write every department in the import format."""
    rows = [d.__dict__ for d in repo.departments(conn)]
    write_rows(path, columns=COLUMNS, rows=rows)
    return len(rows)
