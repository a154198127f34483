"""The stored-XSS drill's payloads: numbered texts holding every kind of injection, and copies of the shipped
reference files (categories, departments, rules, the four grid levels) with a payload in every name."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from citygrid.demo import CATEGORIES, CHANCHENG_LAYERS, DEPARTMENTS, GRIDS, RULES

# Every planted text holds each of these that fits (a script tag, handlers on injected elements, attribute and
# tag breakers each followed by a script, a javascript: URL, a template literal); {n} numbers the text.
KINDS = (
    "<script>alert({n})</script>",
    "<img id=xss-{n} src=x onerror=alert({n})>",
    '"><svg id=xss-{n} onload=alert({n})>',
    "'><script>alert({n})</script>",
    "javascript:alert({n})",
    "</textarea><script>alert({n})</script>",
    "' onmouseover='alert({n})' data-x='",
    "</title></script><script>alert({n})</script><img id=xss-{n} src=x onerror=alert({n})>",
    "${{alert({n})}}",
)
MARK = "xss"


class Plants:
    """The numbered payloads handed out: n → (the field it went into, its text)."""

    def __init__(self) -> None:
        self.texts: dict[int, tuple[str, str]] = {}

    def __call__(self, field_name: str, *, limit: int = 400) -> str:
        """A new payload for `field_name`: the marker and as many kinds as fit in `limit` characters."""
        n = len(self.texts) + 1
        text = f"{MARK}{n}:"
        for kind in KINDS:
            more = f"{text} {kind.format(n=n)}"
            if len(more) > limit:
                break
            text = more
        self.texts[n] = (field_name, text)
        return text

    def field_of(self, n) -> str:
        """The field payload `n` went into (a dialog's message is its n)."""
        return self.texts.get(int(n), ("?", ""))[0] if str(n).isdigit() else "?"


def _rewrite_csv(source: Path, target: Path, change) -> None:
    with source.open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    for row in rows:
        change(row)
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def payload_files(plants: Plants, folder: Path) -> dict[str, Path]:
    """Copies of the shipped reference files with a payload added to every name: categories (and their major
    categories), departments and their unit types, routing rules, and the four grid levels."""
    majors: dict[str, str] = {}

    def category(row: dict) -> None:
        row["name"] = f"{row['name']} {plants('category name')}"
        if row["major_code"] not in majors:  # one payload per major category, the same on each of its rows
            majors[row["major_code"]] = f"{row['major_name']} {plants('major category name')}"
        row["major_name"] = majors[row["major_code"]]

    units: dict[str, str] = {}  # a unit type (环卫所…) links a rule to each street's department of that type

    def unit(value: str) -> str:
        if value and value not in units:
            units[value] = f"{value} {plants('unit type', limit=200)}"
        return units.get(value, value)

    files = {"categories": folder / "categories.csv", "departments": folder / "departments.csv",
             "rules": folder / "rules.csv", "grids": folder / "grids"}
    _rewrite_csv(CATEGORIES, files["categories"], category)
    _rewrite_csv(DEPARTMENTS, files["departments"], lambda row: row.update(
        name=f"{row['name']} {plants('department name')}", unit_type=unit(row["unit_type"])))
    _rewrite_csv(RULES, files["rules"], lambda row: row.update(name=f"{row['name']} {plants('rule name')}",
                                                               unit_type=unit(row["unit_type"])))
    files["grids"].mkdir()
    for level, filename, _ in CHANCHENG_LAYERS:
        data = json.loads((GRIDS / filename).read_text(encoding="utf-8"))
        for feature in data["features"]:
            feature["properties"]["name"] = f"{feature['properties']['name']} {plants(f'{level} name')}"
        (files["grids"] / filename).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return files
