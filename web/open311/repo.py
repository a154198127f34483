"""The SQL behind Open311: public categories as services, their attributes, cases as service requests."""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

SERVICES = """
SELECT c.code, c.name, m.name AS group_name, c.time_limit,
       EXISTS (SELECT 1 FROM service_attribute a WHERE a.category_code = c.code) AS has_attributes
FROM category c JOIN category_major m ON m.code = c.major_code
WHERE c.public ORDER BY c.code
"""
SERVICE = SERVICES.replace("WHERE c.public", "WHERE c.public AND c.code = %(code)s")
ATTRIBUTES = """
SELECT code, datatype, required, description, datatype_description, position, "values"
FROM service_attribute WHERE category_code = %(code)s ORDER BY position, code
"""

# Cases as service requests: public categories only. The first photo of the report step is the public photo.
REQUESTS = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description, dep.name AS agency,
       c.created_at, c.updated_at, c.closed_at, c.deadline, c.deadline_provisional, c.district_name, c.street_name,
       c.community_name,
       c.grid_name, c.grid_code, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.merged_into,
       (SELECT r.media_url FROM report r WHERE r.case_id = c.id AND r.media_url IS NOT NULL ORDER BY r.id LIMIT 1)
           AS client_media_url,
       (SELECT a.id FROM attachment a JOIN case_history h ON h.id = a.history_id AND h.action = 'report'
         WHERE a.case_id = c.id ORDER BY a.id LIMIT 1) AS photo_id,
       (SELECT h.note FROM case_history h WHERE h.case_id = c.id AND h.action = 'reject'
         ORDER BY h.at DESC, h.id DESC LIMIT 1) AS reject_reason
FROM event_case c
JOIN category cat ON cat.code = c.category_code AND cat.public
LEFT JOIN department dep ON dep.code = c.department_code
WHERE CASE WHEN %(ids)s::bigint[] IS NOT NULL THEN c.id = ANY(%(ids)s)
           ELSE (%(codes)s::text[] IS NULL OR c.category_code = ANY(%(codes)s))
                AND c.created_at >= %(start)s AND c.created_at <= %(end)s
                AND (%(status)s::text IS NULL
                     OR %(status)s = 'closed' AND case_is_final(c.status)
                     OR %(status)s = 'open' AND NOT case_is_final(c.status)) END
ORDER BY c.created_at DESC, c.id DESC
LIMIT %(limit)s
"""
TOKEN = """
SELECT r.case_id FROM report r JOIN event_case c ON c.id = r.case_id
JOIN category cat ON cat.code = c.category_code AND cat.public
WHERE r.token = %(token)s
"""
SET_REPORT_EXTRAS = """
UPDATE report SET client_id = %(client_id)s, token = %(token)s, media_url = %(media_url)s,
                  attributes = %(attributes)s, contact = %(contact)s
WHERE id = %(report_id)s
"""
PUBLIC_PHOTO = """
SELECT a.storage_key, a.content_type FROM attachment a
JOIN case_history h ON h.id = a.history_id AND h.action = 'report'
JOIN event_case c ON c.id = a.case_id JOIN category cat ON cat.code = c.category_code AND cat.public
WHERE a.id = %(id)s
"""
DISTRICT = """
SELECT f.code FROM grid_release r JOIN grid_feature f ON f.layer_id = r.district_layer_id WHERE r.is_active LIMIT 1
"""
REPLACE_ATTRIBUTES = "DELETE FROM service_attribute"
INSERT_ATTRIBUTE = """
INSERT INTO service_attribute (category_code, code, datatype, required, description, datatype_description,
                               position, "values")
VALUES (%(category)s, %(code)s, %(datatype)s, %(required)s, %(description)s, %(datatype_description)s,
        %(position)s, %(values)s)
"""
ALL_ATTRIBUTES = """
SELECT category_code AS category, code, datatype, required, description, datatype_description, position,
       "values" FROM service_attribute ORDER BY category_code, position, code
"""


def services(conn: psycopg.Connection) -> list[dict]:
    """Every public category."""
    return conn.cursor(row_factory=dict_row).execute(SERVICES).fetchall()


def service(conn: psycopg.Connection, *, code: str) -> dict | None:
    """One public category, or None (unknown and non-public alike)."""
    return conn.cursor(row_factory=dict_row).execute(SERVICE, {"code": code}).fetchone()


def attributes(conn: psycopg.Connection, *, code: str) -> list[dict]:
    """The extra fields a category asks of Open311 clients, in order."""
    return conn.cursor(row_factory=dict_row).execute(ATTRIBUTES, {"code": code}).fetchall()


def requests(conn: psycopg.Connection, *, ids: list[int] | None = None, codes: list[str] | None = None,
             start: datetime | None = None, end: datetime | None = None, status: str | None = None,
             limit: int = 1000) -> list[dict]:
    """Service requests by id (ids win over every other filter), or by category, time span and status."""
    params = {"ids": ids, "codes": codes, "start": start, "end": end, "status": status, "limit": limit}
    return conn.cursor(row_factory=dict_row).execute(REQUESTS, params).fetchall()


def case_for_token(conn: psycopg.Connection, *, token: str) -> int | None:
    row = conn.execute(TOKEN, {"token": token}).fetchone()
    return row[0] if row else None


def set_report_extras(conn: psycopg.Connection, *, report_id: int, client_id: int, token: str,
                      media_url: str | None, attributes: dict, contact: dict) -> None:
    conn.execute(SET_REPORT_EXTRAS, {"report_id": report_id, "client_id": client_id, "token": token,
                                     "media_url": media_url, "attributes": Jsonb(attributes),
                                     "contact": Jsonb(contact)})


def public_photo(conn: psycopg.Connection, *, attachment_id: int) -> dict | None:
    """A report photo of a case in a public category, or None."""
    return conn.cursor(row_factory=dict_row).execute(PUBLIC_PHOTO, {"id": attachment_id}).fetchone()


def district_code(conn: psycopg.Connection) -> str | None:
    row = conn.execute(DISTRICT).fetchone()
    return row[0] if row else None


def replace_attributes(conn: psycopg.Connection, rows: list[dict]) -> None:
    """Set the whole attribute table (rows already checked)."""
    conn.execute(REPLACE_ATTRIBUTES)
    with conn.cursor() as cur:
        cur.executemany(INSERT_ATTRIBUTE, [{**r, "values": Jsonb(r["values"])} for r in rows])


def all_attributes(conn: psycopg.Connection) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(ALL_ATTRIBUTES).fetchall()
