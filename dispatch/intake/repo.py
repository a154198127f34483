"""SQL of intake in one round trip: the draw of ids (with the reference versions), and every write of a new case as
one statement. Connection first, never commits; each function sends its statement and does not wait (pipeline)."""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

# The transaction's time, the new case's and report's ids, and the version of every reference table (migration
# 0012): all a report needs before its writes that does not depend on the input.
START = """
SELECT now(), nextval('event_case_id_seq'), nextval('report_id_seq'),
       (SELECT jsonb_object_agg(table_name, version) FROM reference_version)
"""

# The case directly in the status its steps reach, its first report, its history rows in order (the report step
# first: its photos belong to it), the routing decision if there is one, and the outbox messages. The history is
# checked against the workflow table at commit (migration 0012).
WRITE = """
WITH new_case AS (
    INSERT INTO event_case (id, status, version, category_code, description, geom, release_id,
        district_code, district_name, street_code, street_name, community_code, community_name, grid_code,
        grid_name, zones, source, reporter, urgent, department_code, dispatched_at, clock_start, deadline,
        yellow_at, deadline_provisional, deadline_explicit, time_limit, escalation_level, dispatch_count)
    VALUES (%(case_id)s, %(status)s, %(version)s, %(category_code)s, %(description)s,
        ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(release_id)s, %(district_code)s, %(district_name)s,
        %(street_code)s, %(street_name)s, %(community_code)s, %(community_name)s, %(grid_code)s, %(grid_name)s,
        %(zones)s, %(source)s, %(actor)s, %(urgent)s, %(department_code)s, %(dispatched_at)s, %(clock_start)s,
        %(deadline)s, %(yellow_at)s, %(deadline_provisional)s, %(deadline_explicit)s, %(time_limit)s,
        %(escalation_level)s, %(dispatch_count)s)
    RETURNING id, geom, created_at
), new_report AS (
    INSERT INTO report (id, case_id, category_code, description, geom, input_lon, input_lat, input_crs, source,
                        reported_at, reporter)
    SELECT %(report_id)s, id, %(category_code)s, %(description)s, geom, %(input_lon)s, %(input_lat)s,
           %(input_crs)s, %(source)s, created_at, %(actor)s
    FROM new_case
), steps AS (
    INSERT INTO case_history (case_id, at, actor, actor_role, action, from_status, to_status, note,
                              department_code, deadline, attachments, detail)
    SELECT c.id, c.created_at, s.actor, s.actor_role, s.action, s.from_status, s.to_status, s.note,
           s.department_code, s.deadline, s.attachments, s.detail
    FROM new_case c, jsonb_to_recordset(%(steps)s) AS s(n int, actor text, actor_role text, action text,
        from_status text, to_status text, note text, department_code text, deadline timestamptz,
        attachments jsonb, detail jsonb)
    ORDER BY s.n  -- ids in step order: steps of one transaction share their time
    RETURNING id
), photos AS (
    UPDATE attachment SET case_id = %(case_id)s, history_id = (SELECT min(id) FROM steps)
    WHERE id = ANY(%(attachments)s) AND history_id IS NULL AND uploaded_by = %(actor)s
), decision AS (
    INSERT INTO routing_decision (case_id, rule_set_id, rule_id, department_code, inputs, candidates, explanation)
    SELECT id, %(rule_set_id)s, %(rule_id)s, %(decided)s, %(inputs)s, %(candidates)s, %(explanation)s
    FROM new_case WHERE %(explanation)s::text IS NOT NULL
)
INSERT INTO outbox (kind, payload)
SELECT 'case', m.payload FROM jsonb_array_elements(%(notices)s) WITH ORDINALITY AS m(payload, n) ORDER BY m.n
"""

CASE_DEFAULTS = {"department_code": None, "dispatched_at": None, "clock_start": None, "deadline": None,
                 "yellow_at": None, "deadline_provisional": False, "deadline_explicit": False, "time_limit": None,
                 "escalation_level": 0, "dispatch_count": 0}
STEP_DEFAULTS = {"department_code": None, "deadline": None, "attachments": [], "detail": {}}
STEP_FIELDS = ("actor", "actor_role", "action", "from_status", "to_status", "note", "department_code", "deadline",
               "attachments", "detail")


def queue_start(conn: psycopg.Connection) -> psycopg.Cursor:
    """Send the draw of (now, case id, report id, {reference table: version}); the row arrives at the next sync."""
    cur = conn.cursor()
    cur.execute(START)
    return cur


def queue_write(conn: psycopg.Connection, *, case: dict, steps: list[dict], notices: list[dict], decision,
                rule_set_id: int | None, attachments: list[int]) -> None:
    """Send every write of a new case (columns in `case`, see WRITE) as one statement."""
    rows = [{"n": n, **{k: _json({**STEP_DEFAULTS, **step}.get(k)) for k in STEP_FIELDS}}
            for n, step in enumerate(steps)]
    chosen = {"rule_set_id": rule_set_id, "rule_id": None, "decided": None, "inputs": None, "candidates": None,
              "explanation": None}
    if decision is not None:
        chosen |= {"rule_id": decision.rule.id if decision.rule else None, "decided": decision.department_code,
                   "inputs": Jsonb(decision.inputs), "candidates": Jsonb(decision.candidates),
                   "explanation": decision.explanation}
    conn.execute(WRITE, {**CASE_DEFAULTS, **case, "zones": Jsonb(case["zones"]), "steps": Jsonb(rows),
                         "notices": Jsonb(notices), "attachments": attachments, **chosen})


def _json(value):
    return value.isoformat() if isinstance(value, datetime) else value
