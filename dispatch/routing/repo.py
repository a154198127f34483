"""SQL of routing's reference data: departments, street units, places and zones, rule sets, and the stored
routing decisions."""
from __future__ import annotations

from dataclasses import asdict

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from dispatch.models import Department
from dispatch.routing.choose import Rule

DEPARTMENTS = "SELECT code, name, kind, unit_type, parent_code, street_code FROM department ORDER BY code"

UPSERT_DEPARTMENT = """
INSERT INTO department (code, name, kind, unit_type, parent_code, street_code)
VALUES (%(code)s, %(name)s, %(kind)s, %(unit_type)s, %(parent_code)s, %(street_code)s)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, unit_type = excluded.unit_type,
    parent_code = excluded.parent_code, street_code = excluded.street_code
"""

ACTIVE_STREETS = """
SELECT f.code, f.name FROM grid_feature f JOIN grid_release r ON r.street_layer_id = f.layer_id AND r.is_active
"""

PLACE_CODES = """
SELECT 'street' AS kind, f.code FROM grid_feature f JOIN grid_release r ON r.street_layer_id = f.layer_id
UNION ALL SELECT 'community', f.code FROM grid_feature f JOIN grid_release r ON r.community_layer_id = f.layer_id
UNION ALL SELECT 'grid', f.code FROM grid_feature f JOIN grid_release r ON r.grid_layer_id = f.layer_id
"""

ZONES = """
SELECT DISTINCT zl.name AS layer, zf.code FROM zone_layer zl
JOIN zone_version zv ON zv.layer_id = zl.id JOIN zone_feature zf ON zf.version_id = zv.id
"""

RULE_COLUMNS = ("line, name, category, place_kind, place_code, zone_layer, zone_code, recipient_kind, "
                "department_code, unit_type, priority")
R_COLUMNS = ", ".join(f"r.{c.strip()}" for c in RULE_COLUMNS.split(","))

ACTIVE_RULES = f"""
SELECT r.id, {R_COLUMNS} FROM routing_rule r JOIN rule_set s ON s.id = r.rule_set_id AND s.is_active
ORDER BY r.line
"""

RULES_OF_SET = f"SELECT r.id, {R_COLUMNS} FROM routing_rule r WHERE r.rule_set_id = %(id)s ORDER BY r.line"

NEW_RULE_SET = """
INSERT INTO rule_set (name, source, created_by) VALUES (%(name)s, %(source)s, %(by)s) RETURNING id
"""

INSERT_RULE = f"""
INSERT INTO routing_rule (rule_set_id, {RULE_COLUMNS})
VALUES (%(rule_set_id)s, %(line)s, %(name)s, %(category)s, %(place_kind)s, %(place_code)s, %(zone_layer)s,
        %(zone_code)s, %(recipient_kind)s, %(department_code)s, %(unit_type)s, %(priority)s)
"""

DEACTIVATE_RULE_SETS = "UPDATE rule_set SET is_active = false WHERE is_active AND id <> %(id)s"
ACTIVATE_RULE_SET = "UPDATE rule_set SET is_active = true, activated_at = now() WHERE id = %(id)s RETURNING id"

RULE_SETS = """
SELECT s.id, s.name, s.source, s.created_at, s.created_by, s.is_active, s.activated_at,
       (SELECT count(*) FROM routing_rule r WHERE r.rule_set_id = s.id) AS rules
FROM rule_set s ORDER BY s.id
"""

INSERT_DECISION = """
INSERT INTO routing_decision (case_id, rule_set_id, rule_id, department_code, inputs, candidates, explanation)
VALUES (%(case_id)s, (SELECT id FROM rule_set WHERE is_active), %(rule_id)s, %(department_code)s, %(inputs)s,
        %(candidates)s, %(explanation)s)
RETURNING id
"""

DECISIONS = """
SELECT d.id, d.at, d.rule_set_id, d.rule_id, d.department_code, dep.name AS department_name, d.inputs,
       (SELECT coalesce(jsonb_agg(x.rule || jsonb_build_object('department_name', cd.name) ORDER BY x.n), '[]')
        FROM jsonb_array_elements(d.candidates) WITH ORDINALITY AS x(rule, n)
        LEFT JOIN department cd ON cd.code = x.rule ->> 'department') AS candidates,
       d.explanation
FROM routing_decision d LEFT JOIN department dep ON dep.code = d.department_code
WHERE d.case_id = %(case_id)s ORDER BY d.at, d.id
"""

# The department each case of a period was last routed to (NULL: the dispatcher's queue), for what-if replays.
ROUTED_CASES = """
SELECT c.id, c.category_code, c.street_code, c.community_code, c.grid_code, c.zones,
       (SELECT d.department_code FROM routing_decision d WHERE d.case_id = c.id ORDER BY d.at DESC, d.id DESC
        LIMIT 1) AS routed_to
FROM event_case c
WHERE c.created_at >= %(start)s AND c.created_at < %(end)s AND NOT c.imported
  AND EXISTS (SELECT 1 FROM routing_decision d WHERE d.case_id = c.id)
"""



def departments(conn: psycopg.Connection) -> list[Department]:
    """Every department, by code."""
    return conn.cursor(row_factory=class_row(Department)).execute(DEPARTMENTS).fetchall()


def upsert_departments(conn: psycopg.Connection, *, rows: list[dict]) -> None:
    """Insert or update departments (the parent constraint is checked at commit)."""
    with conn.cursor() as cur:
        cur.executemany(UPSERT_DEPARTMENT, rows)


def active_streets(conn: psycopg.Connection) -> dict[str, str]:
    """Street code → name in the active release."""
    return dict(conn.execute(ACTIVE_STREETS).fetchall())


def place_codes(conn: psycopg.Connection) -> set[tuple[str, str]]:
    """(level, code) of every street, community and grid in any release."""
    return {tuple(r) for r in conn.execute(PLACE_CODES).fetchall()}


def zones(conn: psycopg.Connection) -> set[tuple[str, str]]:
    """(layer, code) of every zone ever imported."""
    return {tuple(r) for r in conn.execute(ZONES).fetchall()}


def active_rules(conn: psycopg.Connection) -> list[Rule]:
    """The rules of the active rule set."""
    return conn.cursor(row_factory=class_row(Rule)).execute(ACTIVE_RULES).fetchall()


def rules_of_set(conn: psycopg.Connection, *, rule_set_id: int) -> list[Rule]:
    """The rules of one rule set."""
    return conn.cursor(row_factory=class_row(Rule)).execute(RULES_OF_SET, {"id": rule_set_id}).fetchall()


def create_rule_set(conn: psycopg.Connection, *, name: str, source: str, by: str, rules: list[Rule]) -> int:
    """Store a new (inactive) rule set; return its id."""
    set_id = conn.execute(NEW_RULE_SET, {"name": name, "source": source, "by": by}).fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany(INSERT_RULE, [{**asdict(r), "rule_set_id": set_id} for r in rules])
    return set_id


def activate_rule_set(conn: psycopg.Connection, *, rule_set_id: int) -> bool:
    """Make one rule set the active one (two statements: the partial unique index is checked per row)."""
    conn.execute(DEACTIVATE_RULE_SETS, {"id": rule_set_id})
    return conn.execute(ACTIVATE_RULE_SET, {"id": rule_set_id}).fetchone() is not None


def rule_sets(conn: psycopg.Connection) -> list[dict]:
    """Every rule set, oldest first: the routing table's change history."""
    return conn.cursor(row_factory=dict_row).execute(RULE_SETS).fetchall()


def insert_decision(conn: psycopg.Connection, *, case_id: int, decision) -> int:
    """Store a routing decision with its inputs and candidates."""
    return conn.execute(INSERT_DECISION, {
        "case_id": case_id, "rule_id": decision.rule.id if decision.rule else None,
        "department_code": decision.department_code, "inputs": Jsonb(decision.inputs),
        "candidates": Jsonb(decision.candidates), "explanation": decision.explanation,
    }).fetchone()[0]


def decisions(conn: psycopg.Connection, *, case_id: int) -> list[dict]:
    """Every routing decision of a case, oldest first."""
    return conn.cursor(row_factory=dict_row).execute(DECISIONS, {"case_id": case_id}).fetchall()


def routed_cases(conn: psycopg.Connection, *, start, end) -> list[dict]:
    """Cases created in [start, end) with the department they were last routed to."""
    return conn.cursor(row_factory=dict_row).execute(ROUTED_CASES, {"start": start, "end": end}).fetchall()
