"""Routing against the database: the active rules, the street units, and the stored decision."""
from __future__ import annotations

import psycopg

from dispatch.routing import repo
from dispatch.routing.choose import Decision, Facts, Rule, choose


def facts_of(case: dict) -> Facts:
    """The routing inputs of a case row."""
    zones = tuple((z["layer"], z["code"]) for z in case.get("zones") or [])
    return Facts(case["category_code"], case["street_code"], case["community_code"], case["grid_code"], zones)


def street_units(conn: psycopg.Connection) -> dict[tuple[str, str], str]:
    """(street code, unit type) → department code of every street-level unit."""
    return {(d.street_code, d.unit_type): d.code for d in repo.departments(conn) if d.kind == "street"}


def decide(conn: psycopg.Connection, *, case: dict, rules: list[Rule] | None = None,
           units: dict | None = None) -> Decision:
    """Route a case with the active rules (or the rules given)."""
    rules = repo.active_rules(conn) if rules is None else rules
    return choose(rules, facts_of(case), street_units(conn) if units is None else units)
