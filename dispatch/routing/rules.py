"""Routing rules as data: import (validated, all or nothing), export, history and the what-if replay."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from core.errors import InvalidInput
from dispatch.routing import repo
from dispatch.routing.choose import Rule, shadowed, ties
from dispatch.routing.router import decide, street_units
from events import repo as events_repo
from events.tablefile import read_rows, write_rows

COLUMNS = ("name", "category", "place_kind", "place_code", "zone_layer", "zone_code", "recipient_kind",
           "department", "unit_type", "priority")


class RuleFileError(InvalidInput):
    """A rule table that fails validation; nothing was stored."""


@dataclass
class Loaded:
    """A validated rule table and the warnings it raised."""

    rules: list[Rule]
    warnings: list[str] = field(default_factory=list)
    rule_set_id: int | None = None


def load_rules(conn: psycopg.Connection, *, path: str | os.PathLike) -> Loaded:
    """Parse and validate a rule file against categories, departments, places and zones; store nothing."""
    rows = read_rows(path, columns=COLUMNS, required=("name", "category", "recipient_kind"), error=RuleFileError)
    return check_rows(conn, rows=rows, source=str(path))


def check_rows(conn: psycopg.Connection, *, rows: list[tuple[int, dict]], source: str) -> Loaded:
    """Validate (line, row) pairs of rule text; store nothing."""
    rows = [(line, {c: str(row.get(c) or "").strip() for c in COLUMNS}) for line, row in rows]
    ctx = _Context(conn)
    rules, problems = [], []
    for line, row in rows:
        found = ctx.problems(row)
        problems += [f"line {line}: {p}" for p in found]
        if not found:
            rules.append(_rule(line, row))
    problems += ties(rules)
    if problems:
        raise RuleFileError(f"{source}: nothing imported: " + "; ".join(problems[:20]))
    return Loaded(rules, shadowed(rules) + ctx.missing_layers(rules))


def _rule(line: int, r: dict) -> Rule:
    return Rule(id=None, line=line, name=r["name"], category=r["category"] or None,
                place_kind=r.get("place_kind") or None, place_code=r.get("place_code") or None,
                zone_layer=r.get("zone_layer") or None, zone_code=r.get("zone_code") or None,
                recipient_kind=r["recipient_kind"], department_code=r.get("department") or None,
                unit_type=r.get("unit_type") or None, priority=int(r.get("priority") or 0))


class _Context:
    """What a rule may refer to."""

    def __init__(self, conn: psycopg.Connection) -> None:
        cats = events_repo.categories(conn)
        self.categories = {c.code for c in cats} | {c.major_code for c in cats}
        departments = repo.departments(conn)
        self.departments = {d.code for d in departments}
        self.unit_types = {d.unit_type for d in departments if d.kind == "street"}
        self.places = repo.place_codes(conn)
        self.zones = repo.zones(conn)

    def problems(self, r: dict) -> list[str]:
        out = []
        if r["category"] and r["category"] not in self.categories:
            out.append(f"unknown category {r['category']!r} (a 4-digit minor, a 2-digit major, or empty for any)")
        out += self._place(r) + self._recipient(r)
        try:
            if abs(int(r.get("priority") or 0)) > 1_000_000:
                raise ValueError
        except ValueError:
            out.append(f"priority {r['priority']!r} must be a whole number between -1000000 and 1000000")
        return out

    def _place(self, r: dict) -> list[str]:
        kind, code = r.get("place_kind") or "", r.get("place_code") or ""
        if kind == "":
            return ["place_code needs a place_kind"] if code else []
        if kind == "zone":
            layer, zone = r.get("zone_layer") or "", r.get("zone_code") or ""
            if not layer:
                return ["a zone rule needs zone_layer"]
            layers = {lay for lay, _ in self.zones}
            if layer in layers and zone and (layer, zone) not in self.zones:
                return [f"no zone {zone!r} in zone layer {layer!r}"]
            return []
        if kind not in ("street", "community", "grid"):
            return [f"place_kind {kind!r} must be empty (district), street, community, grid or zone"]
        return [] if (kind, code) in self.places else [f"unknown {kind} code {code!r}"]

    def missing_layers(self, rules: list[Rule]) -> list[str]:
        """Zone rules whose layer is not loaded yet: valid, but they match nothing until it is."""
        layers = {lay for lay, _ in self.zones}
        return [f"line {r.line}: zone layer {r.zone_layer!r} is not loaded yet; the rule matches nothing until "
                "`citygrid zones import` loads it" for r in rules if r.place_kind == "zone"
                and r.zone_layer not in layers]

    def _recipient(self, r: dict) -> list[str]:
        kind = r["recipient_kind"]
        if kind == "department":
            dep = r.get("department") or ""
            return [] if dep in self.departments else [f"unknown department {dep!r}"]
        if kind == "street_unit":
            unit = r.get("unit_type") or ""
            return [] if unit in self.unit_types else [f"no street has a unit of type {unit!r}"]
        return [f"recipient_kind {kind!r} must be department or street_unit"]


def import_rules(conn: psycopg.Connection, *, path: str | os.PathLike, by: str, activate: bool = True) -> Loaded:
    """Validate a rule file and store it as a new rule set (the old sets stay as history)."""
    return store_rules(conn, loaded=load_rules(conn, path=path), name=Path(path).name, source=os.fspath(path),
                       by=by, activate=activate)


def store_rules(conn: psycopg.Connection, *, loaded: Loaded, name: str, source: str, by: str,
                activate: bool) -> Loaded:
    """Store validated rules as a new rule set, and make it the active one if asked."""
    loaded.rule_set_id = repo.create_rule_set(conn, name=name, source=source, by=by, rules=loaded.rules)
    if activate:
        repo.activate_rule_set(conn, rule_set_id=loaded.rule_set_id)
    return loaded


def export_rules(conn: psycopg.Connection, *, path: str | os.PathLike, rule_set_id: int | None = None) -> int:
    """Write the active (or a given) rule set in the import format."""
    rules = repo.active_rules(conn) if rule_set_id is None else repo.rules_of_set(conn, rule_set_id=rule_set_id)
    write_rows(path, columns=COLUMNS, rows=[{**r.__dict__, "department": r.department_code} for r in rules])
    return len(rules)


def check_rules(conn: psycopg.Connection, *, path: str | os.PathLike, start: datetime, end: datetime) -> dict:
    """What-if: route the period's stored cases with a proposed rule file and count who would move where."""
    return what_if(conn, loaded=load_rules(conn, path=path), start=start, end=end)


def what_if(conn: psycopg.Connection, *, loaded: Loaded, start: datetime, end: datetime) -> dict:
    """Replay the routed cases created in [start, end) with proposed rules; count the moves."""
    cases = repo.routed_cases(conn, start=start, end=end)
    units = street_units(conn)
    moves: Counter = Counter()
    for case in cases:
        proposed = decide(conn, case=case, rules=loaded.rules, units=units).department_code
        if proposed != case["routed_to"]:
            moves[(case["routed_to"] or "dispatcher queue", proposed or "dispatcher queue")] += 1
    return {"cases": len(cases), "moved": sum(moves.values()), "warnings": loaded.warnings,
            "moves": [{"from": a, "to": b, "cases": n} for (a, b), n in moves.most_common()]}
