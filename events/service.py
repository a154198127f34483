"""Use cases of the events package: categories, and reading cases."""
from __future__ import annotations

import csv
import os
import re

import psycopg

from events import repo
from events.errors import CaseNotFound, CategoryFileError, UnknownCategory
from events.models import Case, Category

CATEGORY_COLUMNS = ("code", "major_code", "major_name", "name")


def import_categories(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    """Load a category CSV (code, major_code, major_name, name), all or nothing; return rows loaded."""
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in CATEGORY_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CategoryFileError(f"{path} lacks column(s) {', '.join(missing)}; "
                                        f"it needs {', '.join(CATEGORY_COLUMNS)}")
            rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CategoryFileError(f"cannot read {path}: {exc}") from None
    problems = [f"line {n}: {p}" for n, row in enumerate(rows, start=2) if (p := _category_problem(row))]
    codes = [r["code"] for r in rows]
    problems += [f"code {c} appears more than once" for c in sorted({c for c in codes if codes.count(c) > 1})]
    if problems or not rows:
        raise CategoryFileError(f"{path}: nothing imported: " + ("; ".join(problems[:20]) or "no rows"))
    majors = {r["major_code"]: r["major_name"] for r in rows}
    repo.upsert_categories(
        conn,
        majors=[{"code": c, "name": n} for c, n in sorted(majors.items())],
        minors=[{"code": r["code"], "major_code": r["major_code"], "name": r["name"]} for r in rows],
    )
    return len(rows)


def _category_problem(row: dict) -> str | None:
    if not re.fullmatch(r"[0-9]{4}", row.get("code", "")):
        return f"code {row.get('code')!r} must be 4 digits (2 major + 2 minor)"
    if row["code"][:2] != row.get("major_code"):
        return f"code {row['code']} does not start with its major code {row.get('major_code')!r}"
    if not row.get("name") or not row.get("major_name"):
        return f"code {row['code']} needs a name and a major name"
    return None


def require_category(conn: psycopg.Connection, *, code: str) -> Category:
    """The category, or UnknownCategory with a hint."""
    found = repo.category(conn, code=code) if isinstance(code, str) else None
    if found is None:
        raise UnknownCategory(f"unknown category {code!r}: use a 4-digit code from GET /api/categories")
    return found


def get_case(conn: psycopg.Connection, *, case_id: int) -> Case:
    """One case with its reports and history."""
    row = repo.case(conn, case_id=case_id)
    if row is None:
        raise CaseNotFound(f"no case {case_id}")
    return Case(**row, history=repo.history(conn, case_id=case_id))
