"""The leader's dashboard beside the map: today's counts, the most overdue open cases, and cases per day."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

SCOPE = """
  AND (%(street)s::text IS NULL OR c.street_code = %(street)s)
  AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
  AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
"""

TODAY = """
SELECT count(*) FILTER (WHERE c.created_at >= %(day)s) AS reported,
       count(*) FILTER (WHERE c.dispatched_at >= %(day)s) AS dispatched,
       count(*) FILTER (WHERE c.closed_at >= %(day)s) AS closed,
       count(*) FILTER (WHERE c.status NOT IN ('closed', 'rejected', 'merged')) AS open,
       count(*) FILTER (WHERE c.status IN ('dispatched', 'accepted', 'extension_requested')
                          AND now() > c.deadline) AS overdue
FROM event_case c
WHERE (c.created_at >= %(day)s OR c.closed_at >= %(day)s OR c.dispatched_at >= %(day)s
       OR c.status NOT IN ('closed', 'rejected', 'merged'))
""" + SCOPE

TOP_OVERDUE = """
SELECT c.id, c.category_code, cat.name AS category_name, c.department_code, c.street_name, c.grid_code,
       c.deadline, round(extract(epoch FROM now() - c.deadline) / 3600.0, 1)::float AS hours_overdue
FROM event_case c JOIN category cat ON cat.code = c.category_code
WHERE c.status IN ('dispatched', 'accepted', 'extension_requested') AND now() > c.deadline
""" + SCOPE + """
ORDER BY c.deadline
LIMIT %(limit)s
"""

# Cases reported and closed per day of the deployment's calendar, the last N days: two grouped scans, not one per day.
TREND = """
WITH days AS (SELECT generate_series(%(first)s::date, %(last)s::date, interval '1 day')::date AS day),
reported AS (
    SELECT (c.created_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n FROM event_case c
    WHERE c.created_at >= %(since)s """ + SCOPE + """ GROUP BY 1
), closed AS (
    SELECT (c.closed_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n FROM event_case c
    WHERE c.closed_at >= %(since)s """ + SCOPE + """ GROUP BY 1
)
SELECT d.day, coalesce(r.n, 0) AS reported, coalesce(x.n, 0) AS closed
FROM days d LEFT JOIN reported r ON r.day = d.day LEFT JOIN closed x ON x.day = d.day
ORDER BY d.day
"""


def dashboard(conn: psycopg.Connection, *, tz: ZoneInfo, scope: dict, days: int = 30, top: int = 10) -> dict:
    """Today's counts, the top overdue cases and the daily trend, within the reader's scope."""
    today = datetime.now(tz).date()
    start = datetime.combine(today, datetime.min.time(), tz)
    cur = conn.cursor(row_factory=dict_row)
    counts = cur.execute(TODAY, {"day": start, **scope}).fetchone()
    overdue = cur.execute(TOP_OVERDUE, {"limit": top, **scope}).fetchall()
    first = today - timedelta(days=days - 1)
    trend = cur.execute(TREND, {"first": first, "last": today, "tz": str(tz),
                                "since": datetime.combine(first, datetime.min.time(), tz), **scope}).fetchall()
    return {"date": today.isoformat(), "today": counts, "top_overdue": overdue,
            "trend": [{"day": _iso(r["day"]), "reported": r["reported"], "closed": r["closed"]} for r in trend]}


def _iso(day: date) -> str:
    return day.isoformat()
