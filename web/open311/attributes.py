"""The service attribute table: loaded from CSV or YAML, all or nothing, and written back out."""
from __future__ import annotations

import os
import re

import psycopg

from core.errors import InvalidInput
from events.tablefile import boolean, read_rows, write_rows
from web.open311 import repo

COLUMNS = ("category", "code", "datatype", "required", "description", "datatype_description", "position", "values")
REQUIRED = ("category", "code", "datatype", "description")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
RESERVED = {"crs"}  # our extension, offered by every service


class AttributeFileError(InvalidInput):
    """The attribute file cannot be loaded; nothing was changed."""


def import_attributes(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    """Replace every service attribute with the file's; every problem is listed and nothing changes."""
    rows = read_rows(path, columns=COLUMNS, required=REQUIRED, error=AttributeFileError)
    known = {r[0] for r in conn.execute("SELECT code FROM category WHERE public").fetchall()}
    problems, out, seen = [], [], set()
    for line, row in rows:
        try:
            out.append(_check(row, known, seen))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise AttributeFileError(f"{path}: {len(problems)} problem(s), nothing loaded: " + "; ".join(problems))
    repo.replace_attributes(conn, out)
    return len(out)


def _check(row: dict, known: set[str], seen: set) -> dict:
    category, code, datatype = row["category"], row["code"], row["datatype"]
    if category not in known:
        raise ValueError(f"category {category!r} is unknown or not public (Open311 lists public categories only)")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", code) or code in RESERVED:
        raise ValueError(f"attribute code {code!r}: lower-case letters, digits and _, not {', '.join(RESERVED)}")
    if (category, code) in seen:
        raise ValueError(f"attribute {code} appears twice for category {category}")
    seen.add((category, code))
    if datatype not in DATATYPES:
        raise ValueError(f"datatype {datatype!r}: use one of {', '.join(DATATYPES)}")
    required = boolean(row.get("required", "") or "false")
    if required is None:
        raise ValueError(f"required {row.get('required')!r}: use true or false")
    position = row.get("position") or "1"
    if not position.isdigit():
        raise ValueError(f"position {position!r} is not a whole number")
    values = []
    for pair in filter(None, (p.strip() for p in (row.get("values") or "").split("|"))):
        key, sep, name = pair.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise ValueError(f"value {pair!r}: write key=name")
        values.append({"key": key.strip(), "name": name.strip()})
    if datatype.endswith("valuelist") != bool(values):
        raise ValueError("list datatypes need values (key=name|…); other datatypes take none")
    return {"category": category, "code": code, "datatype": datatype, "required": required,
            "description": row["description"], "datatype_description": row.get("datatype_description", ""),
            "position": int(position), "values": values}


def export_attributes(conn: psycopg.Connection, *, path: str | os.PathLike) -> int:
    rows = [{**r, "required": "true" if r["required"] else "false",
             "values": "|".join(f"{v['key']}={v['name']}" for v in r["values"])} for r in repo.all_attributes(conn)]
    write_rows(path, columns=COLUMNS, rows=rows)
    return len(rows)
