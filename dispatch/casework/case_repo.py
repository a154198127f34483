"""SQL of the case workflow: lock, change, record, attach, notify. Connection first, never commits."""
from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from dispatch.casework.case_sql import LIGHT

LOCK = """
SELECT c.id, c.status, c.version, c.category_code, c.street_code, c.community_code, c.grid_code, c.zones,
       c.department_code, c.urgent, c.deadline, c.clock_start, c.time_limit, c.source, c.merged_into,
       cat.time_limit AS category_limit, cat.urgent_limit, cat.check_limit
FROM event_case c JOIN category cat ON cat.code = c.category_code
WHERE c.id = %(id)s
FOR UPDATE OF c
"""

# Whether any active grid officer covers a grid (by grid code, or by holding its whole street).
GRID_HAS_OFFICER = """
SELECT EXISTS (SELECT 1 FROM app_user
               WHERE active AND 'grid_officer' = ANY(roles)
                 AND (%(grid)s = ANY(grid_codes) OR street_code = %(street)s))
"""

RETURNED_BY = "SELECT DISTINCT department_code FROM case_history WHERE case_id = %(id)s AND action = 'return'"

LAST_STEP = """
SELECT action, actor, at FROM case_history WHERE case_id = %(id)s ORDER BY at DESC, id DESC LIMIT 1
"""

# Columns an action may change; anything else is a programming error, not user input.
CHANGEABLE = frozenset({
    "status", "department_code", "dispatched_at", "clock_start", "deadline", "yellow_at", "deadline_provisional",
    "time_limit", "handled_at", "check_deadline", "closed_at", "escalation_level", "dispatch_count",
    "return_count", "rework_count", "extension_count", "merged_into", "urgent", "deadline_explicit",
})
COUNTERS = frozenset({"dispatch_count", "return_count", "rework_count", "extension_count"})

INSERT_HISTORY = """
INSERT INTO case_history (case_id, at, actor, actor_role, action, from_status, to_status, note, department_code,
                          deadline, attachments, detail, imported)
VALUES (%(case_id)s, coalesce(%(at)s, now()), %(actor)s, %(actor_role)s, %(action)s, %(from_status)s,
        %(to_status)s, %(note)s, %(department_code)s, %(deadline)s, %(attachments)s, %(detail)s, %(imported)s)
RETURNING id
"""

LINK_ATTACHMENTS = """
UPDATE attachment SET case_id = %(case_id)s, history_id = %(history_id)s
WHERE id = ANY(%(ids)s) AND history_id IS NULL AND uploaded_by = %(actor)s
RETURNING id, storage_key, content_type, width, height
"""

FREE_ATTACHMENTS = """
SELECT id FROM attachment WHERE id = ANY(%(ids)s) AND history_id IS NULL AND uploaded_by = %(actor)s
"""

INSERT_ATTACHMENT = """
INSERT INTO attachment (storage_key, content_type, size_bytes, width, height, sha256, uploaded_by)
VALUES (%(storage_key)s, %(content_type)s, %(size_bytes)s, %(width)s, %(height)s, %(sha256)s, %(uploaded_by)s)
RETURNING id
"""

ATTACHMENT = "SELECT id, storage_key, content_type, case_id, uploaded_by FROM attachment WHERE id = %(id)s"

MOVE_REPORTS = "UPDATE report SET joined_case_id = %(into)s WHERE case_id = %(id)s"

INSERT_OUTBOX = """
INSERT INTO outbox (kind, dedupe_key, payload) VALUES (%(kind)s, %(dedupe_key)s, %(payload)s)
ON CONFLICT (dedupe_key) DO NOTHING
"""


def lock(conn: psycopg.Connection, *, case_id: int) -> dict | None:
    """The case row with its category's limits, locked until the transaction ends."""
    return conn.cursor(row_factory=dict_row).execute(LOCK, {"id": case_id}).fetchone()


def grid_has_officer(conn: psycopg.Connection, *, grid_code: str, street_code: str) -> bool:
    """Whether some active grid officer covers this grid."""
    return conn.execute(GRID_HAS_OFFICER, {"grid": grid_code, "street": street_code}).fetchone()[0]


def returned_by(conn: psycopg.Connection, *, case_id: int) -> set[str]:
    """The departments that have returned this case."""
    return {r[0] for r in conn.execute(RETURNED_BY, {"id": case_id}).fetchall() if r[0]}


def last_step(conn: psycopg.Connection, *, case_id: int) -> dict | None:
    """The newest history row of a case."""
    return conn.cursor(row_factory=dict_row).execute(LAST_STEP, {"id": case_id}).fetchone()


def update(conn: psycopg.Connection, *, case_id: int, changes: dict) -> int:
    """Apply column changes (counters given as increments); the trigger checks the status and bumps the version."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise ValueError(f"not changeable: {sorted(unknown)}")
    sets = [sql.SQL("{0} = {0} + {1}").format(sql.Identifier(k), sql.Placeholder(k)) if k in COUNTERS
            else sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes]
    query = sql.SQL("UPDATE event_case SET {} WHERE id = {} RETURNING version").format(
        sql.SQL(", ").join(sets), sql.Placeholder("case_id"))
    return conn.execute(query, {**changes, "case_id": case_id}).fetchone()[0]


def add_history(conn: psycopg.Connection, **row) -> int:
    """Append one history row; returns its id."""
    row = {"at": None, "department_code": None, "deadline": None, "imported": False, **row}
    row["attachments"] = Jsonb(row.get("attachments", []))
    row["detail"] = Jsonb(row.get("detail", {}))
    return conn.execute(INSERT_HISTORY, row).fetchone()[0]


def free_attachments(conn: psycopg.Connection, *, ids: list[int], actor: str) -> set[int]:
    """Which of the ids are the actor's uploads not yet used by an action."""
    return {r[0] for r in queue_free_attachments(conn, ids=ids, actor=actor).fetchall()}


def queue_free_attachments(conn: psycopg.Connection, *, ids: list[int], actor: str) -> psycopg.Cursor:
    """Send the check of free_attachments; in pipeline mode its rows arrive at the next sync."""
    cur = conn.cursor()
    cur.execute(FREE_ATTACHMENTS, {"ids": ids, "actor": actor})
    return cur


def link_attachments(conn: psycopg.Connection, *, ids: list[int], case_id: int, history_id: int,
                     actor: str) -> list[dict]:
    """Tie uploaded files to the action that used them."""
    params = {"ids": ids, "case_id": case_id, "history_id": history_id, "actor": actor}
    return conn.cursor(row_factory=dict_row).execute(LINK_ATTACHMENTS, params).fetchall()


def insert_attachment(conn: psycopg.Connection, **row) -> int:
    """Record an uploaded, cleaned photo."""
    return conn.execute(INSERT_ATTACHMENT, row).fetchone()[0]


def attachment(conn: psycopg.Connection, *, attachment_id: int) -> dict | None:
    """One attachment's record."""
    return conn.cursor(row_factory=dict_row).execute(ATTACHMENT, {"id": attachment_id}).fetchone()


def move_reports(conn: psycopg.Connection, *, case_id: int, into: int) -> None:
    """Point a merged case's reports at the case they joined."""
    conn.execute(MOVE_REPORTS, {"id": case_id, "into": into})


def notify(conn: psycopg.Connection, *, kind: str, payload: dict, dedupe_key: str | None = None) -> None:
    """Queue a notification in the outbox, in the caller's transaction."""
    conn.execute(INSERT_OUTBOX, {"kind": kind, "dedupe_key": dedupe_key, "payload": Jsonb(payload)})


PROVISIONAL_OPEN = """
SELECT id, status, clock_start, time_limit, deadline, yellow_at, deadline_explicit, escalation_level,
       department_code, now() AS now
FROM event_case
WHERE deadline_provisional AND case_is_held(status)
  AND clock_start IS NOT NULL AND time_limit IS NOT NULL
ORDER BY id
FOR UPDATE
"""


def provisional_open(conn: psycopg.Connection) -> list[dict]:
    """Open cases whose deadline was counted without holiday data, locked."""
    return conn.cursor(row_factory=dict_row).execute(PROVISIONAL_OPEN).fetchall()


LIST_COLUMNS = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description, c.street_code, c.street_name,
       c.grid_code, c.department_code, dep.name AS department_name, c.urgent, c.deadline, c.deadline_provisional,
       c.created_at, c.version,
       c.rework_count, c.return_count, c.reporter, """ + LIGHT + """ AS light
FROM event_case c JOIN category cat ON cat.code = c.category_code
LEFT JOIN department dep ON dep.code = c.department_code
"""

LIST = LIST_COLUMNS + """
WHERE (%(statuses)s::text[] IS NULL OR c.status = ANY(%(statuses)s))
  AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
  AND (%(street)s::text IS NULL OR c.street_code = %(street)s)
  AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
ORDER BY c.deadline NULLS LAST, c.created_at, c.id
LIMIT %(limit)s
"""

MINE = LIST_COLUMNS + """
WHERE c.reporter = %(username)s
ORDER BY c.created_at DESC, c.id DESC
LIMIT %(limit)s
"""

# Public reports in the streets of an officer's grids that no officer covers: theirs to verify too.
UNCOVERED_AWAITING = LIST_COLUMNS + """
WHERE c.status = 'awaiting_verification'
  AND EXISTS (SELECT 1 FROM unnest(%(grids)s::text[]) g WHERE left(g, length(c.street_code)) = c.street_code)
  AND NOT EXISTS (SELECT 1 FROM app_user u WHERE u.active AND 'grid_officer' = ANY(u.roles)
                  AND (c.grid_code = ANY(u.grid_codes) OR u.street_code = c.street_code))
ORDER BY c.created_at, c.id
LIMIT %(limit)s
"""


def list_cases(conn: psycopg.Connection, *, statuses: list[str] | None, department: str | None,
               street: str | None, grids: list[str] | None, limit: int) -> list[dict]:
    """Cases by status and scope, soonest deadline first."""
    params = {"statuses": statuses, "department": department, "street": street, "grids": grids, "limit": limit}
    return conn.cursor(row_factory=dict_row).execute(LIST, params).fetchall()


def uncovered_awaiting(conn: psycopg.Connection, *, grids: list[str], limit: int) -> list[dict]:
    """Public reports awaiting verification in the streets of these grids where no officer covers the grid."""
    return conn.cursor(row_factory=dict_row).execute(UNCOVERED_AWAITING, {"grids": grids, "limit": limit}).fetchall()


SET_HISTORY_ATTACHMENTS = "UPDATE case_history SET attachments = %(ids)s WHERE id = %(id)s"


def set_history_attachments(conn: psycopg.Connection, *, history_id: int, ids: list[int]) -> None:
    """Record on a history row the ids of the files its action used."""
    conn.execute(SET_HISTORY_ATTACHMENTS, {"id": history_id, "ids": Jsonb(ids)})


def transaction_time(conn: psycopg.Connection):
    """now(): the start of the current transaction, the same instant for every row it writes."""
    return conn.execute("SELECT now()").fetchone()[0]


def reported_by(conn: psycopg.Connection, *, username: str, limit: int) -> list[dict]:
    """The cases a person reported, newest first ("my reports")."""
    return conn.cursor(row_factory=dict_row).execute(MINE, {"username": username, "limit": limit}).fetchall()
