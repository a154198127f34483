"""Holiday schedule files: the days an administrator imports for years chinese-calendar does not cover yet.

CSV: a header `date,kind,name`, then one row per day; lines starting with # are comments.
YAML (.yaml/.yml): a list of {date, kind, name}. `kind` is "holiday" (a day off) or "workday" (a 调休
working weekend day). The whole file is checked and every problem reported at once; nothing partial is returned.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import date

import yaml

from core.errors import InvalidInput

KINDS = {"holiday": False, "workday": True}
HEADER = ("date", "kind", "name")


class CalendarFileError(InvalidInput):
    """A holiday schedule file that cannot be imported; `problems` lists every finding."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        lines = [f"{path}: nothing imported:"] + [f"  - {p}" for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"  … and {len(problems) - 50} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class CalendarDay:
    """One imported day: a holiday (workday False) or a 调休 working day (workday True)."""

    day: date
    workday: bool
    name: str


def parse_calendar_file(path: str | os.PathLike) -> list[CalendarDay]:
    """Read a CSV or YAML schedule, all or nothing; CalendarFileError names each bad line."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError(path, [f"cannot read the file: {exc}"]) from None
    is_yaml = path.lower().endswith((".yaml", ".yml"))
    rows, problems = _yaml_rows(text) if is_yaml else _csv_rows(text)
    days = _check_rows(rows, problems)
    if not days and not problems:
        problems.append("the file lists no days")
    if problems:
        raise CalendarFileError(path, problems)
    return sorted(days, key=lambda d: d.day)


def years_of(days) -> frozenset[int]:
    """The years the given CalendarDays fall in."""
    return frozenset(d.day.year for d in days)


def _csv_rows(text: str) -> tuple[list[tuple[int, object, object, object]], list[str]]:
    # Comments and blank lines are dropped before csv sees the text, but line numbers stay the file's own.
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        return [], []
    first_no, first = numbered[0]
    header = tuple(c.strip().lower() for c in next(csv.reader([first])))
    if header != HEADER:
        return [], [f"line {first_no}: the header must be {','.join(HEADER)} (found {first.strip()!r})"]
    rows, problems = [], []
    for n, line in numbered[1:]:
        cells = [c.strip() for c in next(csv.reader([line]))]
        if len(cells) != len(HEADER):
            problems.append(f"line {n}: expected 3 columns (date,kind,name), found {len(cells)}")
            continue
        rows.append((n, *cells))
    return rows, problems


def _yaml_rows(text: str) -> tuple[list[tuple[int, object, object, object]], list[str]]:
    try:
        data, root = yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        return [], [f"{where}not valid YAML: {getattr(exc, 'problem', None) or exc}"]
    if data is None:
        return [], []
    if not isinstance(data, list):
        return [], ["line 1: the file must be a list of {date, kind, name} entries"]
    rows, problems = [], []
    # compose() walks the same text as safe_load(), so item i of both is the same entry; it alone knows lines.
    for item, node in zip(data, root.value):
        n = node.start_mark.line + 1
        if not isinstance(item, dict):
            problems.append(f"line {n}: expected an entry with date, kind and name")
            continue
        rows.append((n, item.get("date"), item.get("kind"), item.get("name")))
    return rows, problems


def _check_rows(rows, problems: list[str]) -> list[CalendarDay]:
    days, seen = [], {}
    for n, raw_date, raw_kind, raw_name in rows:
        day, kind = _parse_date(raw_date), str(raw_kind or "").strip().lower()
        if day is None:
            problems.append(f"line {n}: bad date {raw_date!r} (expected YYYY-MM-DD, e.g. 2027-01-01)")
        if kind not in KINDS:
            problems.append(f"line {n}: unknown kind {raw_kind!r} (expected holiday or workday)")
        if day is None or kind not in KINDS:
            continue
        if day in seen:
            problems.append(f"line {n}: {day} is listed twice (first on line {seen[day]})")
            continue
        seen[day] = n
        # A weekday is a working day already: marking it so is almost certainly a typo in the date.
        if KINDS[kind] and day.weekday() < 5:
            problems.append(f"line {n}: {day} is already a weekday; only weekends can be 调休 working days")
            continue
        days.append(CalendarDay(day=day, workday=KINDS[kind], name=str(raw_name or "").strip()))
    return days


def _parse_date(raw) -> date | None:
    if isinstance(raw, date) and not hasattr(raw, "hour"):
        return raw  # YAML reads an unquoted 2027-01-01 as a date already
    text = str(raw or "").strip()
    # Strict ISO: fromisoformat alone would also accept 20270101 and 2027-W01-1.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
