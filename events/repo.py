"""Every SQL statement of the events package. Connection first, never commits."""
from __future__ import annotations

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from events.models import Category, HistoryEntry

CATEGORY = """
SELECT c.code, c.name, c.major_code, m.name AS major_name
FROM category c JOIN category_major m ON m.code = c.major_code WHERE c.code = %(code)s
"""

CATEGORIES = """
SELECT c.code, c.name, c.major_code, m.name AS major_name
FROM category c JOIN category_major m ON m.code = c.major_code ORDER BY c.code
"""

UPSERT_MAJOR = """
INSERT INTO category_major (code, name) VALUES (%(code)s, %(name)s)
ON CONFLICT (code) DO UPDATE SET name = excluded.name
"""

UPSERT_CATEGORY = """
INSERT INTO category (code, major_code, name) VALUES (%(code)s, %(major_code)s, %(name)s)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, major_code = excluded.major_code
"""

OPEN_CASE = """
WITH new_case AS (
    INSERT INTO event_case (status, category_code, description, geom, release_id,
        district_code, district_name, street_code, street_name,
        community_code, community_name, grid_code, grid_name, zones)
    VALUES (%(status)s, %(category_code)s, %(description)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
        %(release_id)s, %(district_code)s, %(district_name)s, %(street_code)s, %(street_name)s,
        %(community_code)s, %(community_name)s, %(grid_code)s, %(grid_name)s, %(zones)s)
    RETURNING id, geom, created_at
), new_report AS (
    INSERT INTO report (case_id, category_code, description, geom, input_lon, input_lat, input_crs, source,
                        reported_at)
    SELECT id, %(category_code)s, %(description)s, geom, %(input_lon)s, %(input_lat)s, %(input_crs)s,
           %(source)s, created_at
    FROM new_case RETURNING id
), first_step AS (
    INSERT INTO case_history (case_id, at, actor, action, from_status, to_status, note)
    SELECT id, created_at, %(actor)s, 'report', NULL, %(status)s, %(note)s FROM new_case
)
SELECT (SELECT id FROM new_case) AS case_id, (SELECT id FROM new_report) AS report_id
"""

CASE = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.release_id,
       c.district_code, c.district_name, c.street_code, c.street_name,
       c.community_code, c.community_name, c.grid_code, c.grid_name, c.zones, c.created_at, c.updated_at,
       ARRAY(SELECT r.id FROM report r WHERE r.case_id = c.id ORDER BY r.id) AS report_ids
FROM event_case c JOIN category cat ON cat.code = c.category_code
WHERE c.id = %(id)s
"""

HISTORY = """
SELECT at, actor, action, from_status, to_status, note FROM case_history WHERE case_id = %(id)s ORDER BY at, id
"""

MAP_CASES = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.grid_code, c.created_at
FROM event_case c JOIN category cat ON cat.code = c.category_code
ORDER BY c.created_at DESC, c.id DESC
LIMIT %(limit)s
"""


def category(conn: psycopg.Connection, *, code: str) -> Category | None:
    """One category by code."""
    return conn.cursor(row_factory=class_row(Category)).execute(CATEGORY, {"code": code}).fetchone()


def categories(conn: psycopg.Connection) -> list[Category]:
    """The whole tree, by code."""
    return conn.cursor(row_factory=class_row(Category)).execute(CATEGORIES).fetchall()


def upsert_categories(conn: psycopg.Connection, *, majors: list[dict], minors: list[dict]) -> None:
    """Insert or rename majors and minors."""
    with conn.cursor() as cur:
        cur.executemany(UPSERT_MAJOR, majors)
        cur.executemany(UPSERT_CATEGORY, minors)


def open_case(conn: psycopg.Connection, **values) -> tuple[int, int]:
    """Insert a case, its first report and its first history row in one statement; return (case, report)."""
    values = {**values, "zones": Jsonb(values["zones"])}
    row = conn.execute(OPEN_CASE, values).fetchone()
    return row[0], row[1]


def case(conn: psycopg.Connection, *, case_id: int) -> dict | None:
    """A case row with its category name and report ids."""
    return conn.cursor(row_factory=dict_row).execute(CASE, {"id": case_id}).fetchone()


def history(conn: psycopg.Connection, *, case_id: int) -> list[HistoryEntry]:
    """A case's history, oldest first."""
    return conn.cursor(row_factory=class_row(HistoryEntry)).execute(HISTORY, {"id": case_id}).fetchall()


def map_cases(conn: psycopg.Connection, *, limit: int) -> list[dict]:
    """The newest cases for the map."""
    return conn.cursor(row_factory=dict_row).execute(MAP_CASES, {"limit": limit}).fetchall()
