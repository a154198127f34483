"""Reading the rollups of migration 0013 (docs/rollups.md): the map's cells, the grids' shading, the dashboard's days.

The rollups count cases per lattice cell, unit grid and day, by state: finished, open, or held by a department.
What depends on the moment of the request, overdue, is counted here and not in the rollups: overdue = held minus
the held cases not yet past their deadline, and those are few (the cases dispatched in the last days), found
through the partial index on the held cases' deadline.
"""
from __future__ import annotations

import re

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dispatch.casework.case_sql import NOT_DUE

LEVELS = tuple(range(11, 18))  # the lattice levels the trigger counts (migration 0013): zoom 11 to 17
COMPACT_LOCK = 7_402_613     # the advisory lock rollup_compact() and the bulk path share

# Read first and on their own, through the partial index whatever the filters: a plan that combines that index
# with another (created_at, the department's) reads far more than these few rows.
NOT_DUE_CASES = f"""not_due AS MATERIALIZED (
    SELECT c.geom, c.street_code, c.department_code, c.category_code, c.created_at, c.grid_code FROM event_case c
    WHERE {NOT_DUE})"""

# The map panel's filters over the rows of event_case `c` (the scope is in the rollup's key and repeated here).
CASE_FILTERS = """
  AND (%(street)s::text IS NULL OR c.street_code = %(street)s)
  AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
  AND (%(major)s::text IS NULL OR left(c.category_code, 2) = %(major)s)
  AND (%(f_department)s::text IS NULL OR c.department_code = %(f_department)s)
  AND (%(f_street)s::text IS NULL OR c.street_code = %(f_street)s)
  AND (%(since)s::timestamptz IS NULL OR c.created_at >= %(since)s)
"""

CELL_ROWS = """
SELECT cx >> %(shift)s AS gx, cy >> %(shift)s AS gy, cx, cy, state, n, sx, sy FROM {table}
WHERE level = %(level)s AND {day} AND dim = %(dim)s AND val = %(val)s
  AND cx BETWEEN %(x0)s AND %(x1)s AND cy BETWEEN %(y0)s AND %(y1)s
  AND (%(street)s::text IS NULL OR street_code = %(street)s)
  AND (%(f_street)s::text IS NULL OR street_code = %(f_street)s)
"""

# Per output cell: all, open and held counts (and sums) from the rollups, then the held cases not yet due.
CELLS = """
WITH r AS ({rows_base} UNION ALL {rows_delta}),
agg AS (
    SELECT gx, gy, sum(n) AS a, sum(n) FILTER (WHERE state > 0) AS o, sum(n) FILTER (WHERE state = 2) AS h,
           sum(sx) AS ax, sum(sy) AS ay, sum(sx) FILTER (WHERE state > 0) AS ox,
           sum(sy) FILTER (WHERE state > 0) AS oy, sum(sx) FILTER (WHERE state = 2) AS hx,
           sum(sy) FILTER (WHERE state = 2) AS hy, min(cx) FILTER (WHERE n > 0) AS cx0,
           max(cx) FILTER (WHERE n > 0) AS cx1, min(cy) FILTER (WHERE n > 0) AS cy0, max(cy) FILTER (WHERE n > 0) AS cy1
    FROM r GROUP BY gx, gy
), """ + NOT_DUE_CASES + """, nd AS (
    SELECT floor(ST_X(c.geom) / %(lsize)s)::int >> %(shift)s AS gx,
           floor(ST_Y(c.geom) / %(lsize)s)::int >> %(shift)s AS gy,
           count(*) AS n, sum(ST_X(c.geom)) AS sx, sum(ST_Y(c.geom)) AS sy
    FROM not_due c
    WHERE floor(ST_X(c.geom) / %(lsize)s)::int BETWEEN %(x0)s AND %(x1)s
      AND floor(ST_Y(c.geom) / %(lsize)s)::int BETWEEN %(y0)s AND %(y1)s
""" + CASE_FILTERS + """
    GROUP BY 1, 2
)
SELECT agg.gx, agg.gy, coalesce(a, 0) AS a, coalesce(o, 0) AS o, coalesce(h, 0) - coalesce(nd.n, 0) AS v,
       coalesce(ax, 0) AS ax, coalesce(ay, 0) AS ay, coalesce(ox, 0) AS ox, coalesce(oy, 0) AS oy,
       coalesce(hx, 0) - coalesce(nd.sx, 0) AS vx, coalesce(hy, 0) - coalesce(nd.sy, 0) AS vy,
       cx0 * %(lsize)s AS west, cy0 * %(lsize)s AS south, (cx1 + 1) * %(lsize)s AS east, (cy1 + 1) * %(lsize)s AS north
FROM agg LEFT JOIN nd ON nd.gx = agg.gx AND nd.gy = agg.gy
"""

GRID_LOAD = """
WITH r AS (
    SELECT grid_code, state, n FROM case_grid WHERE dim = %(dim)s AND val = %(val)s
      AND (%(street)s::text IS NULL OR street_code = %(street)s)
      AND (%(grids)s::text[] IS NULL OR grid_code = ANY(%(grids)s))
    UNION ALL
    SELECT grid_code, state, n FROM case_grid_delta WHERE dim = %(dim)s AND val = %(val)s
      AND (%(street)s::text IS NULL OR street_code = %(street)s)
      AND (%(grids)s::text[] IS NULL OR grid_code = ANY(%(grids)s))
), """ + NOT_DUE_CASES + """, nd AS (
    SELECT c.grid_code, count(*) AS n FROM not_due c
    WHERE (%(street)s::text IS NULL OR c.street_code = %(street)s)
      AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
      AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
    GROUP BY c.grid_code
)
SELECT r.grid_code, sum(r.n) AS open, sum(r.n) FILTER (WHERE r.state = 2) AS held, min(nd.n) AS not_due
FROM r LEFT JOIN nd USING (grid_code) GROUP BY r.grid_code
"""

OWN_OUTSIDE = """
SELECT EXISTS (SELECT 1 FROM event_case c WHERE c.reporter = %(me)s
               AND NOT ((%(street)s::text IS NULL OR c.street_code = %(street)s)
                        AND (%(department)s::text IS NULL OR c.department_code IS NOT DISTINCT FROM %(department)s)
                        AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))))
"""


def serial(conn: psycopg.Connection) -> None:
    """No parallel workers for the rest of this transaction: these reads touch a few thousand rows, and the
    planner, which cannot see how few held cases are not yet due, would otherwise start workers (30 ms) for them."""
    conn.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")


def compact(conn: psycopg.Connection) -> bool:
    """Fold the rollups' deltas into their base rows (the worker's tick); False if another compaction runs."""
    return conn.execute("SELECT rollup_compact()").fetchone()[0]


def zone(conn: psycopg.Connection) -> str:
    """The time zone whose days the rollups count."""
    return conn.execute("SELECT tz FROM rollup_zone").fetchone()[0]


def level_for(zoom: int) -> int | None:
    """The coarsest lattice level at least as fine as the zoom's cells, or None past the finest."""
    return next((level for level in LEVELS if level >= zoom), None)


def own_outside_scope(conn: psycopg.Connection, *, me: str, scope: dict) -> bool:
    """Whether the reader reported cases outside their scope (the map shows them those too)."""
    if all(v is None for v in scope.values()):
        return False
    return conn.execute(OWN_OUTSIDE, {"me": me, **scope}).fetchone()[0]


def cells(conn: psycopg.Connection, *, params: dict, level: int, zoom: int, dim: str, val: str,
          since_day) -> list[dict]:
    """Per output cell at `zoom`: all, open and overdue counts, coordinate sums, the lattice squares with cases."""
    query, args = cells_query(params=params, level=level, zoom=zoom, dim=dim, val=val, since_day=since_day)
    serial(conn)
    return conn.cursor(row_factory=dict_row).execute(query, args).fetchall()


def cells_query(*, params: dict, level: int, zoom: int, dim: str, val: str, since_day) -> tuple[sql.Composed, dict]:
    """The statement of `cells` and its parameters."""
    lsize = 90.0 / 2 ** level
    x0, y0 = int(params["west"] // lsize), int(params["south"] // lsize)
    x1, y1 = int(params["east"] // lsize), int(params["north"] // lsize)
    day = sql.SQL("day = '-infinity'") if since_day is None else sql.SQL("day >= %(since_day)s")
    rows = [sql.SQL(CELL_ROWS).format(table=sql.Identifier(t), day=day) for t in ("case_cell", "case_cell_delta")]
    query = sql.SQL(CELLS).format(rows_base=rows[0], rows_delta=rows[1])
    return query, {**params, "level": level, "shift": level - zoom, "lsize": lsize, "x0": x0, "x1": x1, "y0": y0,
                   "y1": y1, "dim": dim, "val": val, "since_day": since_day}


def generic_plan(conn: psycopg.Connection, query, params: dict) -> list[str]:
    """EXPLAIN of the plan a prepared statement gets under plan_cache_mode = force_generic_plan (PostgreSQL 15
    has no EXPLAIN (GENERIC_PLAN)): the statement is prepared with $n parameters, then explained with the values."""
    text = query.as_string(conn) if isinstance(query, sql.Composable) else query
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"
    text = re.sub(r"%\((\w+)\)s", number, text).replace("%%", "%")
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    conn.execute(sql.SQL("PREPARE citygrid_generic AS {}").format(sql.SQL(text)))
    try:
        values = sql.SQL(", ").join(sql.Literal(params[n]) for n in names)
        explain = sql.SQL("EXPLAIN EXECUTE citygrid_generic({})").format(values)
        return [r[0] for r in conn.execute(explain if names else "EXPLAIN EXECUTE citygrid_generic").fetchall()]
    finally:
        conn.execute("DEALLOCATE citygrid_generic")


def grid_load(conn: psycopg.Connection, *, street: str | None = None, department: str | None = None,
              grids: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """Grid code → (open cases, overdue cases) within a scope, overdue as of now."""
    params = {"street": street, "department": department, "grids": grids,
              "dim": "a" if department is None else "d", "val": department or ""}
    serial(conn)
    out = {}
    for code, open_, held, not_due in conn.execute(GRID_LOAD, params).fetchall():
        if open_:
            out[code] = (int(open_), int((held or 0) - (not_due or 0)))
    return out
