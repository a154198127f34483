"""SQL of the historical-case import: cases, reports and history rows written directly, marked imported."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

ALREADY_IMPORTED = """
SELECT case_id FROM case_history
WHERE action = 'report' AND imported AND detail ->> 'external_id' = %(external_id)s
LIMIT 1
"""

INSERT_CASE = """
WITH new_case AS (
    INSERT INTO event_case (status, category_code, description, geom, release_id, district_code, district_name,
        street_code, street_name, community_code, community_name, grid_code, grid_name, zones, created_at,
        updated_at, source, reporter, urgent, department_code, dispatched_at, clock_start, deadline, yellow_at,
        deadline_provisional, time_limit, handled_at, check_deadline, closed_at, dispatch_count, return_count,
        rework_count, extension_count, imported, external_id)
    VALUES (%(status)s, %(category_code)s, %(description)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
        %(release_id)s, %(district_code)s, %(district_name)s, %(street_code)s, %(street_name)s,
        %(community_code)s, %(community_name)s, %(grid_code)s, %(grid_name)s, %(zones)s, %(created_at)s,
        %(updated_at)s, %(source)s, %(reporter)s, %(urgent)s, %(department_code)s, %(dispatched_at)s,
        %(clock_start)s, %(deadline)s, %(yellow_at)s, %(deadline_provisional)s, %(time_limit)s, %(handled_at)s,
        %(check_deadline)s, %(closed_at)s, %(dispatch_count)s, %(return_count)s, %(rework_count)s,
        %(extension_count)s, true, %(external_id)s)
    RETURNING id, geom
), new_report AS (
    INSERT INTO report (case_id, category_code, description, geom, input_lon, input_lat, input_crs, source,
                        reported_at, reporter)
    SELECT id, %(category_code)s, %(description)s, geom, %(input_lon)s, %(input_lat)s, %(input_crs)s, %(source)s,
           %(created_at)s, %(reporter)s
    FROM new_case
)
SELECT id FROM new_case
"""

INSERT_HISTORY = """
INSERT INTO case_history (case_id, at, actor, actor_role, action, from_status, to_status, note, department_code,
                          deadline, detail, imported)
VALUES (%(case_id)s, %(at)s, %(actor)s, %(actor_role)s, %(action)s, %(from_status)s, %(to_status)s, %(note)s,
        %(department_code)s, %(deadline)s, %(detail)s, true)
"""


def imported_case_id(conn: psycopg.Connection, *, external_id: str) -> int | None:
    """The case an external id was imported as, if any."""
    row = conn.execute(ALREADY_IMPORTED, {"external_id": external_id}).fetchone()
    return row[0] if row else None


def insert_imported(conn: psycopg.Connection, *, case: dict, history: list[dict]) -> int:
    """Insert an imported case with its report and history rows; returns the case id."""
    case_id = conn.execute(INSERT_CASE, {**case, "zones": Jsonb(case["zones"])}).fetchone()[0]
    rows = [{**h, "case_id": case_id, "detail": Jsonb(h.get("detail", {}))} for h in history]
    with conn.cursor() as cur:
        cur.executemany(INSERT_HISTORY, rows)
    return case_id
