"""Use cases of the events package: categories, and reading cases."""
from __future__ import annotations

import os
import re

import psycopg

from events import repo
from events.errors import CaseNotFound, CategoryFileError, UnknownCategory
from events.models import Case, Category
from events.tablefile import boolean, read_rows, write_rows
from events.workclock import Limit

CATEGORY_COLUMNS = ("code", "major_code", "major_name", "name", "limit", "urgent_limit", "check_limit",
                    "duplicate_radius_m", "public", "local_extension", "limit_source")
REQUIRED = ("code", "major_code", "major_name", "name")
DEFAULTS = {"limit": "1wd", "urgent_limit": "", "check_limit": "2wh", "duplicate_radius_m": "50", "public": "true",
            "local_extension": "false", "limit_source": "to be set by the city"}


def import_categories(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    """Load a category table (CSV or YAML), all or nothing; missing limit columns take the defaults."""
    rows = read_rows(path, columns=CATEGORY_COLUMNS, required=REQUIRED, error=CategoryFileError)
    rows = [(n, {**DEFAULTS, **{k: v for k, v in r.items() if v != "" or k == "urgent_limit"}}) for n, r in rows]
    problems = [f"line {n}: {p}" for n, row in rows for p in _category_problems(row)]
    codes = [r["code"] for _, r in rows]
    problems += [f"code {c} appears more than once" for c in sorted({c for c in codes if codes.count(c) > 1})]
    if problems:
        raise CategoryFileError(f"{path}: nothing imported: " + "; ".join(problems[:20]))
    majors = {}
    for _, r in rows:
        majors[r["major_code"]] = {"code": r["major_code"], "name": r["major_name"],
                                   "local_extension": boolean(r["local_extension"])}
    repo.upsert_categories(conn, majors=sorted(majors.values(), key=lambda m: m["code"]),
                           minors=[_minor(r) for _, r in rows])
    return len(rows)


def _minor(r: dict) -> dict:
    return {"code": r["code"], "major_code": r["major_code"], "name": r["name"],
            "time_limit": str(Limit.parse(r["limit"])), "check_limit": str(Limit.parse(r["check_limit"])),
            "urgent_limit": str(Limit.parse(r["urgent_limit"])) if r["urgent_limit"] else None,
            "duplicate_radius_m": float(r["duplicate_radius_m"]), "public": boolean(r["public"]),
            "limit_source": r["limit_source"]}


def _category_problems(row: dict) -> list[str]:
    if not re.fullmatch(r"[0-9]{4}", row.get("code", "")):
        return [f"code {row.get('code')!r} must be 4 digits (2 major + 2 minor)"]
    out = []
    if row["code"][:2] != row.get("major_code"):
        out.append(f"code {row['code']} does not start with its major code {row.get('major_code')!r}")
    if not row.get("name") or not row.get("major_name"):
        out.append(f"code {row['code']} needs a name and a major name")
    for column in ("limit", "check_limit", "urgent_limit"):
        if row[column] or column != "urgent_limit":
            try:
                Limit.parse(row[column])
            except ValueError as exc:
                out.append(f"code {row['code']} {column}: {exc}")
    try:
        if float(row["duplicate_radius_m"]) < 0:
            raise ValueError
    except ValueError:
        out.append(f"code {row['code']} duplicate_radius_m must be a number of metres >= 0")
    out += [f"code {row['code']} {c} must be true or false" for c in ("public", "local_extension")
            if boolean(row[c]) is None]
    return out


def export_categories(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    """Write the category table in the import format (CSV or YAML by file name)."""
    rows = repo.category_table(conn)
    write_rows(path, columns=CATEGORY_COLUMNS, rows=rows)
    return len(rows)


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
