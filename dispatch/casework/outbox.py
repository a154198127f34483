"""The periodic job: escalate cases that turn yellow or red, and deliver the outbox to the in-app inbox.

Both steps claim rows with FOR UPDATE SKIP LOCKED, so several workers can run at once without doing anything
twice; delivery is at-least-once, and the inbox's unique (outbox, user) key makes a retry harmless.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

import psycopg
from psycopg.rows import dict_row

from dispatch.casework import case_repo

from dispatch.casework.deadlines import calendar_status

ESCALATE = """
SELECT id, status, department_code, deadline, escalation_level,
       CASE WHEN now() > deadline THEN 2 ELSE 1 END AS target
FROM event_case
WHERE case_is_held(status)
  AND yellow_at <= now() AND escalation_level < CASE WHEN now() > deadline THEN 2 ELSE 1 END
ORDER BY yellow_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

CLAIM = """
SELECT id, kind, payload, attempts FROM outbox
WHERE delivered_at IS NULL AND next_attempt_at <= now()
ORDER BY id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

DELIVER = """
WITH wanted AS (
    SELECT u.id FROM app_user u
    WHERE u.active AND u.roles && %(roles)s::text[]
      AND (%(department)s::text IS NULL OR u.department_code = %(department)s)
      AND (%(grid)s::text IS NULL OR %(grid)s = ANY(u.grid_codes) OR u.street_code = %(street)s)
), street_wide AS (
    -- nobody covers that grid: the same roles anywhere in its street (e.g. the neighbouring grids' officers)
    SELECT u.id FROM app_user u
    WHERE %(grid)s::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM wanted)
      AND u.active AND u.roles && %(roles)s::text[]
      AND EXISTS (SELECT 1 FROM unnest(u.grid_codes) g WHERE left(g, length(%(street)s)) = %(street)s)
), fallback AS (
    SELECT u.id FROM app_user u
    WHERE u.active AND u.roles && %(fallback)s::text[]
      AND NOT EXISTS (SELECT 1 FROM wanted) AND NOT EXISTS (SELECT 1 FROM street_wide)
), ins AS (
    INSERT INTO inbox_message (outbox_id, user_id, case_id, subject, body)
    SELECT %(id)s, id, %(case_id)s, %(subject)s, %(body)s
    FROM (SELECT id FROM wanted UNION SELECT id FROM street_wide UNION SELECT id FROM fallback) r
    ON CONFLICT (outbox_id, user_id) DO NOTHING
    RETURNING 1
)
UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = %(id)s
RETURNING (SELECT count(*) FROM ins)
"""

FAILED = """
UPDATE outbox SET attempts = attempts + 1, last_error = %(error)s,
    next_attempt_at = now() + make_interval(secs => least(3600, 30 * power(2, attempts)))
WHERE id = %(id)s
"""

INBOX = """
SELECT id, case_id, subject, body, created_at, read_at FROM inbox_message
WHERE user_id = (SELECT id FROM app_user WHERE username = %(username)s)
  AND (NOT %(unread)s OR read_at IS NULL)
ORDER BY created_at DESC, id DESC LIMIT %(limit)s
"""

UNREAD = """
SELECT count(*) FROM (SELECT 1 FROM inbox_message
                      WHERE user_id = (SELECT id FROM app_user WHERE username = %(username)s) AND read_at IS NULL
                      LIMIT %(cap)s) unread
"""

MARK_READ = """
UPDATE inbox_message SET read_at = coalesce(read_at, now())
WHERE id = %(id)s AND user_id = (SELECT id FROM app_user WHERE username = %(username)s) RETURNING id
"""

LEVELS = {1: ("yellow", "most of the time limit is used"), 2: ("red", "the deadline has passed")}


@dataclass
class Tick:
    """What one run of the worker did."""

    escalated: int = 0
    delivered: int = 0
    failed: int = 0
    messages: int = 0


def escalate(conn: psycopg.Connection, *, tz: tzinfo, limit: int = 500) -> int:
    """Record one escalation per level crossed, and queue who must hear of it; returns levels recorded."""
    done = 0
    for case in conn.cursor(row_factory=dict_row).execute(ESCALATE, {"limit": limit}).fetchall():
        for level in range(case["escalation_level"] + 1, case["target"] + 1):
            _escalate_one(conn, case, level, tz)
            done += 1
        case_repo.update(conn, case_id=case["id"], changes={"escalation_level": case["target"]})
    return done


def _escalate_one(conn, case: dict, level: int, tz: tzinfo) -> None:
    light, why = LEVELS[level]
    due = case["deadline"].astimezone(tz)
    case_repo.add_history(conn, case_id=case["id"], actor="system", actor_role="system", action="escalate",
                          from_status=case["status"], to_status=case["status"],
                          note=f"{light}: {why} (due {due:%Y-%m-%d %H:%M})",
                          department_code=case["department_code"], deadline=case["deadline"],
                          detail={"level": level, "light": light})
    to = ({"roles": ["handler", "dept_head"], "department": case["department_code"]} if level == 1 else
          {"roles": ["dept_head"], "department": case["department_code"]})
    case_repo.notify(conn, kind="escalation", dedupe_key=f"escalate:{case['id']}:{level}:{case['deadline']}",
                     payload={"case_id": case["id"], "to": to,
                              "subject": f"case {case['id']} is {light}: {why}"})
    if level == 2:
        case_repo.notify(conn, kind="escalation", dedupe_key=f"escalate:{case['id']}:2d:{case['deadline']}",
                         payload={"case_id": case["id"], "to": {"roles": ["dispatcher"]},
                                  "subject": f"case {case['id']} at {case['department_code']} is overdue"})


def deliver(conn: psycopg.Connection, *, limit: int = 500) -> Tick:
    """Deliver pending outbox rows to the inbox; a failing row is retried later with backoff."""
    tick = Tick()
    for row in conn.cursor(row_factory=dict_row).execute(CLAIM, {"limit": limit}).fetchall():
        try:
            with conn.transaction():
                tick.messages += conn.execute(DELIVER, _delivery(row)).fetchone()[0]
            tick.delivered += 1
        except (psycopg.Error, KeyError, TypeError, AttributeError) as exc:
            # one bad row must not stop the others: record the error and try it again later
            conn.execute(FAILED, {"id": row["id"], "error": f"{type(exc).__name__}: {exc}"[:500]})
            tick.failed += 1
    return tick


def _delivery(row: dict) -> dict:
    payload = row["payload"]
    to = payload.get("to", {})
    return {"id": row["id"], "case_id": payload.get("case_id"), "subject": payload["subject"],
            "body": payload.get("body", ""), "roles": to.get("roles", []), "department": to.get("department"),
            "grid": to.get("grid"), "street": to.get("street"), "fallback": to.get("fallback", [])}


def warn_calendar(conn: psycopg.Connection, *, today: date) -> str | None:
    """Tell administrators (once per horizon) when the holiday calendar runs out within 60 days."""
    status = calendar_status(conn, today=today)
    if status["warning"]:
        case_repo.notify(conn, kind="calendar", dedupe_key=f"calendar:{status['known_until']}",
                         payload={"to": {"roles": ["admin"]}, "subject": status["warning"]})
    return status["warning"]


def inbox(conn: psycopg.Connection, *, username: str, unread: bool = False, limit: int = 100) -> list[dict]:
    """A user's messages, newest first."""
    params = {"username": username, "unread": unread, "limit": limit}
    return conn.cursor(row_factory=dict_row).execute(INBOX, params).fetchall()


def unread_count(conn: psycopg.Connection, *, username: str, cap: int) -> int:
    """How many unread messages a user has, counted up to `cap` (a badge needs no more)."""
    return conn.execute(UNREAD, {"username": username, "cap": cap}).fetchone()[0]


def mark_read(conn: psycopg.Connection, *, username: str, message_id: int) -> bool:
    """Mark one of the user's messages read."""
    return conn.execute(MARK_READ, {"username": username, "id": message_id}).fetchone() is not None
