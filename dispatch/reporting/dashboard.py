"""The leader's dashboard beside the map: today's counts, the most overdue open cases, and cases per day.

Counts come from the rollups of migration 0013 (docs/rollups.md): the days from case_day, open cases from the
coarsest lattice level of case_cell, overdue as held minus the held cases not yet due (counted now). The most
overdue are read in deadline order from the partial index on the held cases. A deployment whose time zone is not
the rollups' (rollup_zone) is counted case by case until `SELECT rollup_refresh('its zone')` is run.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from dispatch.casework.case_sql import DUE, IS_HELD, IS_OPEN, OVERDUE
from dispatch.reporting import rollups
from dispatch.reporting.rollups import NOT_DUE_CASES

SCOPE = """
  AND (%(street)s::text IS NULL OR c.street_code = %(street)s)
  AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
  AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
"""

# The rollup slice of a scope: all, one street ('s') or one department ('d').
DAYS = """
SELECT day, kind, sum(n) AS n FROM (
    SELECT day, kind, n FROM case_day WHERE dim = %(dim)s AND val = %(val)s AND day >= %(first)s
    UNION ALL
    SELECT day, kind, n FROM case_day_delta WHERE dim = %(dim)s AND val = %(val)s AND day >= %(first)s
) d GROUP BY day, kind
"""

OPEN = """
WITH r AS (
    SELECT state, n FROM case_cell WHERE level = %(level)s AND day = '-infinity' AND dim = %(cdim)s AND val = %(val)s
      AND state > 0 AND (%(street)s::text IS NULL OR street_code = %(street)s)
    UNION ALL
    SELECT state, n FROM case_cell_delta WHERE level = %(level)s AND day = '-infinity' AND dim = %(cdim)s
      AND val = %(val)s AND state > 0 AND (%(street)s::text IS NULL OR street_code = %(street)s)
), """ + NOT_DUE_CASES + """
SELECT coalesce(sum(n), 0) AS open, coalesce(sum(n) FILTER (WHERE state = 2), 0)
       - (SELECT count(*) FROM not_due c WHERE true """ + SCOPE + """) AS overdue
FROM r
"""

# The scope is written out (not `%(x)s IS NULL OR …`) so that even a generic plan walks the index of that scope's
# held cases in deadline order (event_case_held_street_due_idx, …_department_…) and stops after `limit`.
TOP_OVERDUE = f"""
SELECT o.*, coalesce(dep.name, o.department_code) AS department_name FROM (
SELECT c.id, c.category_code, cat.name AS category_name, c.department_code, c.street_name, c.grid_code,
       c.deadline, round(extract(epoch FROM now() - c.deadline) / 3600.0, 1)::float AS hours_overdue
FROM event_case c JOIN category cat ON cat.code = c.category_code
WHERE {IS_HELD} AND {DUE} < now() {{scope}}
ORDER BY {DUE}
LIMIT %(limit)s
) o LEFT JOIN department dep ON dep.code = o.department_code  -- the name to show, after the limit
ORDER BY o.deadline, o.id
"""
SCOPE_PARTS = {"street": "AND c.street_code = %(street)s", "department": "AND c.department_code = %(department)s",
               "grids": "AND c.grid_code = ANY(%(grids)s)"}

# Case by case, for a zone the rollups do not count in or an officer's grids.
TODAY_EXACT = f"""
SELECT count(*) FILTER (WHERE c.created_at >= %(day)s) AS reported,
       count(*) FILTER (WHERE c.dispatched_at >= %(day)s) AS dispatched,
       count(*) FILTER (WHERE c.closed_at >= %(day)s) AS closed,
       count(*) FILTER (WHERE {IS_OPEN}) AS open,
       count(*) FILTER (WHERE {OVERDUE}) AS overdue
FROM event_case c
WHERE (c.created_at >= %(day)s OR c.closed_at >= %(day)s OR c.dispatched_at >= %(day)s
       OR {IS_OPEN})
""" + SCOPE

DAYS_EXACT = """
SELECT (c.created_at AT TIME ZONE %(tz)s)::date AS day, 'r' AS kind, count(*) AS n FROM event_case c
WHERE c.created_at >= %(since)s """ + SCOPE + """ GROUP BY 1
UNION ALL
SELECT (c.closed_at AT TIME ZONE %(tz)s)::date, 'x', count(*) FROM event_case c
WHERE c.closed_at >= %(since)s """ + SCOPE + """ GROUP BY 1
"""


def dashboard(conn: psycopg.Connection, *, tz: ZoneInfo, scope: dict, days: int = 30, top: int = 10) -> dict:
    """Today's counts, the top overdue cases and the daily trend, within the reader's scope."""
    today = datetime.now(tz).date()
    first = today - timedelta(days=days - 1)
    cur = conn.cursor(row_factory=dict_row)
    rollups.serial(conn)
    one_slice = scope["grids"] is None and (scope["street"] is None or scope["department"] is None)
    if one_slice and rollups.zone(conn) == str(tz):  # the rollups hold all, one street or one department
        counts, per_day = _from_rollups(cur, scope=scope, first=first, today=today)
    else:
        counts, per_day = _exact(cur, scope=scope, tz=tz, first=first, today=today)
    parts = " ".join(SCOPE_PARTS[k] for k, v in scope.items() if v is not None)
    overdue = cur.execute(TOP_OVERDUE.format(scope=parts), {"limit": top, **scope}).fetchall()
    trend = [{"day": _iso(d), "reported": per_day.get((d, "r"), 0), "closed": per_day.get((d, "x"), 0)}
             for d in (first + timedelta(days=i) for i in range(days))]
    return {"date": today.isoformat(), "today": counts, "top_overdue": overdue, "trend": trend}


def _from_rollups(cur, *, scope: dict, first: date, today: date) -> tuple[dict, dict]:
    dim, val = ("d", scope["department"]) if scope["department"] is not None else \
        ("s", scope["street"]) if scope["street"] is not None else ("a", "")
    rows = cur.execute(DAYS, {"dim": dim, "val": val, "first": first}).fetchall()
    per_day = {(r["day"], r["kind"]): int(r["n"]) for r in rows}
    # "today" is from midnight on, as case by case: a time stamped later than now (a clock ahead) counts too
    later = {kind: sum(n for (d, k), n in per_day.items() if k == kind and d >= today) for kind in "rdx"}
    cell = {"level": rollups.LEVELS[0], "cdim": "d" if dim == "d" else "a", "val": val if dim == "d" else ""}
    state = cur.execute(OPEN, {**cell, **scope}).fetchone()
    counts = {"reported": later["r"], "dispatched": later["d"], "closed": later["x"], "open": int(state["open"]),
              "overdue": int(state["overdue"])}
    return counts, per_day


def _exact(cur, *, scope: dict, tz: ZoneInfo, first: date, today: date) -> tuple[dict, dict]:
    start = datetime.combine(today, datetime.min.time(), tz)
    counts = cur.execute(TODAY_EXACT, {"day": start, **scope}, prepare=False).fetchone()
    since = datetime.combine(first, datetime.min.time(), tz)
    rows = cur.execute(DAYS_EXACT, {"tz": str(tz), "since": since, **scope}, prepare=False).fetchall()
    return counts, {(r["day"], r["kind"]): r["n"] for r in rows}


def _iso(day: date) -> str:
    return day.isoformat()
