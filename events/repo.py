"""Every SQL statement of the events package. Connection first, never commits."""
from __future__ import annotations

import psycopg
from psycopg.rows import class_row, dict_row

from events.models import Category, HistoryEntry

CATEGORY = """
SELECT c.code, c.name, c.major_code, m.name AS major_name, c.time_limit, c.urgent_limit, c.check_limit,
       c.duplicate_radius_m, c.public
FROM category c JOIN category_major m ON m.code = c.major_code WHERE c.code = %(code)s
"""

CATEGORIES = """
SELECT c.code, c.name, c.major_code, m.name AS major_name, c.time_limit, c.urgent_limit, c.check_limit,
       c.duplicate_radius_m, c.public
FROM category c JOIN category_major m ON m.code = c.major_code ORDER BY c.code
"""

UPSERT_MAJOR = """
INSERT INTO category_major (code, name, local_extension) VALUES (%(code)s, %(name)s, %(local_extension)s)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, local_extension = excluded.local_extension
"""

UPSERT_CATEGORY = """
INSERT INTO category (code, major_code, name, time_limit, urgent_limit, check_limit, duplicate_radius_m, public,
                      limit_source)
VALUES (%(code)s, %(major_code)s, %(name)s, %(time_limit)s, %(urgent_limit)s, %(check_limit)s,
        %(duplicate_radius_m)s, %(public)s, %(limit_source)s)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, major_code = excluded.major_code,
    time_limit = excluded.time_limit, urgent_limit = excluded.urgent_limit, check_limit = excluded.check_limit,
    duplicate_radius_m = excluded.duplicate_radius_m, public = excluded.public, limit_source = excluded.limit_source
"""

CATEGORY_TABLE = """
SELECT c.code, c.major_code, m.name AS major_name, c.name, c.time_limit AS "limit", c.urgent_limit, c.check_limit,
       c.duplicate_radius_m, CASE WHEN c.public THEN 'true' ELSE 'false' END AS public,
       CASE WHEN m.local_extension THEN 'true' ELSE 'false' END AS local_extension, c.limit_source
FROM category c JOIN category_major m ON m.code = c.major_code ORDER BY c.code
"""

LIKELY_DUPLICATES = """
SELECT c.id, c.status, c.category_code, c.created_at, c.street_code, c.grid_code, c.department_code,
       round(ST_Distance(c.geom::geography, p.g::geography)::numeric, 1)::float AS distance_m
FROM event_case c
JOIN category cat ON cat.code = c.category_code,
     (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g) p
WHERE c.category_code = %(category_code)s AND c.id <> %(case_id)s
  AND NOT case_is_final(c.status)  -- the case rules: migration 0016
  AND c.created_at >= now() - %(window)s
  -- the plain geometry index finds the candidates in a box a little larger than the radius (1° of latitude is at
  -- least 110,574 m; 1° of longitude at least 111,320·cos(lat) m), the exact distance on the spheroid decides;
  -- the latitude rounded to 1e-6° for the box alone, as radians() of a subnormal one (5e-324) is an underflow error
  AND c.geom && ST_Expand(p.g, cat.duplicate_radius_m * 1.01 / (111320 * cos(radians(round(%(lat)s::numeric, 6)::float8))),
                          cat.duplicate_radius_m * 1.01 / 110574.0)
  AND ST_DWithin(c.geom::geography, p.g::geography, cat.duplicate_radius_m)
ORDER BY distance_m, c.id
LIMIT 10
"""

CASE = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.release_id,
       c.district_code, c.district_name, c.street_code, c.street_name,
       c.community_code, c.community_name, c.grid_code, c.grid_name, c.zones, c.created_at, c.updated_at,
       ARRAY(SELECT r.id FROM report r WHERE r.case_id = c.id OR r.joined_case_id = c.id ORDER BY r.id)
           AS report_ids,
       c.version, c.source, c.reporter, c.urgent, c.department_code, dep.name AS department_name,
       c.dispatched_at, c.deadline, c.yellow_at, c.deadline_provisional, c.time_limit, c.handled_at,
       c.check_deadline, c.closed_at, c.escalation_level, c.dispatch_count, c.return_count, c.rework_count,
       c.extension_count, c.merged_into,
       ARRAY(SELECT m.id FROM event_case m WHERE m.merged_into = c.id ORDER BY m.id) AS merged_cases,
       case_light(c.status, c.deadline, c.yellow_at, now()) AS light
FROM event_case c JOIN category cat ON cat.code = c.category_code
LEFT JOIN department dep ON dep.code = c.department_code
WHERE c.id = %(id)s
"""

HISTORY = """
SELECT id, at, actor, actor_role, action, from_status, to_status, note, department_code, deadline, attachments,
       detail, imported
FROM case_history WHERE case_id = %(id)s ORDER BY at, id
"""

MAP_CASES = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.grid_code, c.street_code, c.created_at, c.department_code,
       c.deadline, case_light(c.status, c.deadline, c.yellow_at, now()) AS light
FROM event_case c JOIN category cat ON cat.code = c.category_code
WHERE (%(street)s::text IS NULL OR c.street_code = %(street)s)
  AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
  AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
ORDER BY case_is_final(c.status), c.created_at DESC, c.id DESC  -- open cases first
LIMIT %(limit)s
"""

def category(conn: psycopg.Connection, *, code: str) -> Category | None:
    """One category by code."""
    return conn.cursor(row_factory=class_row(Category)).execute(CATEGORY, {"code": code}).fetchone()


def categories(conn: psycopg.Connection) -> list[Category]:
    """The whole tree, by code."""
    return conn.cursor(row_factory=class_row(Category)).execute(CATEGORIES).fetchall()


def category_table(conn: psycopg.Connection) -> list[dict]:
    """Every category in the import file's shape."""
    return conn.cursor(row_factory=dict_row).execute(CATEGORY_TABLE).fetchall()


def upsert_categories(conn: psycopg.Connection, *, majors: list[dict], minors: list[dict]) -> None:
    """Insert or rename majors and minors."""
    with conn.cursor() as cur:
        cur.executemany(UPSERT_MAJOR, majors)
        cur.executemany(UPSERT_CATEGORY, minors)


def likely_duplicates(conn: psycopg.Connection, *, case_id: int, category_code: str, lon: float, lat: float,
                      window) -> list[dict]:
    """Open cases of the same category within the category's radius and the time window, nearest first."""
    return queue_likely_duplicates(conn, case_id=case_id, category_code=category_code, lon=lon, lat=lat,
                                   window=window).fetchall()


def queue_likely_duplicates(conn: psycopg.Connection, *, case_id: int, category_code: str, lon: float,
                            lat: float, window) -> psycopg.Cursor:
    """Send the duplicate search; in pipeline mode its rows arrive at the next sync."""
    params = {"case_id": case_id, "category_code": category_code, "lon": lon, "lat": lat, "window": window}
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(LIKELY_DUPLICATES, params)
    return cur


def case(conn: psycopg.Connection, *, case_id: int) -> dict | None:
    """A case row with its category name and report ids."""
    return conn.cursor(row_factory=dict_row).execute(CASE, {"id": case_id}).fetchone()


def history(conn: psycopg.Connection, *, case_id: int) -> list[HistoryEntry]:
    """A case's history, oldest first."""
    return conn.cursor(row_factory=class_row(HistoryEntry)).execute(HISTORY, {"id": case_id}).fetchall()


def map_cases(conn: psycopg.Connection, *, limit: int, street: str | None = None, department: str | None = None,
              grids: list[str] | None = None) -> list[dict]:
    """The newest cases for the map, within a scope (None: no limit on that dimension)."""
    params = {"limit": limit, "street": street, "department": department, "grids": grids}
    return conn.cursor(row_factory=dict_row).execute(MAP_CASES, params).fetchall()
