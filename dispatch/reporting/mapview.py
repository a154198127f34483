"""The cases in a map view, aggregated on the server: the map never receives more than `limit` markers.

A view is a box, a zoom level, the filters of the map's panel and the reader's scope. When at most `limit` cases
match, the map gets them one by one (`points`, always exact). Otherwise it gets `cells`: the matching cases counted
per square of CELL_PX screen pixels at that zoom, each with its open and overdue counts (overdue as of the request),
the mean position of its cases and its square (a click on a cell zooms to it). Up to zoom 17 the cells are read from
the lattice rollups of migration 0013 (dispatch/reporting/rollups.py, docs/rollups.md), so a view costs the same at 100k or
1M cases; deeper, for an officer's grids, or for filter combinations the rollups do not slice, they are counted
case by case in one grouped scan.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from core.errors import Inconsistent, InvalidInput
from dispatch.casework.case_sql import DUE, IS_FINAL, IS_HELD, IS_OPEN, LIGHT, OVERDUE
from dispatch.reporting import rollups

CELL_PX = 64          # the side of a cell on screen, in pixels at the requested zoom
STATUS_FILTERS = ("open", "overdue", "finished")
MAX_PERIOD_DAYS = 3660

# The reader's scope (or their own reports) and the map panel's filters; the export (dispatch/exchange/export.py) adds
# its own day range to the same conditions.
FILTERS = f"""
      ((%(street)s::text IS NULL OR c.street_code = %(street)s)
       AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
       AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
       OR %(me)s::text IS NOT NULL AND c.reporter = %(me)s)
  AND (%(major)s::text IS NULL OR left(c.category_code, 2) = %(major)s)
  AND (%(f_department)s::text IS NULL OR c.department_code = %(f_department)s)
  AND (%(f_street)s::text IS NULL OR c.street_code = %(f_street)s)
  AND (%(status)s::text IS NULL
       OR %(status)s = 'open' AND {IS_OPEN}
       OR %(status)s = 'finished' AND {IS_FINAL}
       OR %(status)s = 'overdue' AND {OVERDUE})
  AND (%(since)s::timestamptz IS NULL OR c.created_at >= %(since)s)
"""

WHERE = """
WHERE c.geom && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)
  AND """ + FILTERS

COUNT = "SELECT count(*) FROM (SELECT 1 FROM event_case c " + WHERE + " LIMIT %(limit)s + 1) hit"

CASE_ROWS = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description, c.reporter,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.grid_code, c.street_code, c.community_code, c.created_at,
       c.department_code, dep.name AS department_name, c.deadline, """ + LIGHT + """ AS light
FROM event_case c JOIN category cat ON cat.code = c.category_code
LEFT JOIN department dep ON dep.code = c.department_code
""" + WHERE

POINTS = CASE_ROWS + """
ORDER BY """ + IS_FINAL + """, c.created_at DESC, c.id DESC  -- open cases first
LIMIT %(limit)s
"""

# The cases a department holds in the view, by deadline (the map's case list when the view has too many cases to
# list them all); read along the partial index on the held cases' deadline.
URGENT = CASE_ROWS + f"""
  AND {IS_HELD}
ORDER BY {DUE} {{order}}, c.id {{order}}
LIMIT %(limit)s
"""

CELLS = f"""
SELECT count(*) AS count,
       count(*) FILTER (WHERE {IS_OPEN}) AS open,
       count(*) FILTER (WHERE {OVERDUE}) AS overdue,
       round(avg(ST_X(c.geom))::numeric, 7)::float AS lon, round(avg(ST_Y(c.geom))::numeric, 7)::float AS lat,
       min(ST_X(c.geom)) AS west, min(ST_Y(c.geom)) AS south, max(ST_X(c.geom)) AS east, max(ST_Y(c.geom)) AS north
FROM event_case c
""" + WHERE + """
GROUP BY floor(ST_X(c.geom) / %(cell)s), floor(ST_Y(c.geom) / %(cell)s)
"""


@dataclass(frozen=True)
class MapFilter:
    """The map panel's filters; empty means all."""

    major: str = ""
    department: str = ""
    street: str = ""
    status: str = ""
    period: int | None = None  # days before today (0: today only), in the deployment's calendar

    def __post_init__(self) -> None:
        if self.major and not re.fullmatch(r"\d{2}", self.major):
            raise InvalidInput(f"major must be a two-digit category code, not {self.major!r}")
        if self.status and self.status not in STATUS_FILTERS:
            raise InvalidInput(f"status must be one of {', '.join(STATUS_FILTERS)}, not {self.status!r}")
        if any("\x00" in v for v in (self.department, self.street)):
            raise InvalidInput("a filter holds a NUL character")
        if self.period is not None and not 0 <= self.period <= MAX_PERIOD_DAYS:
            raise InvalidInput(f"period must be 0–{MAX_PERIOD_DAYS} days, not {self.period}")

    def since(self, tz: ZoneInfo) -> datetime | None:
        """The first instant the period admits: midnight `period` days ago in the deployment's zone."""
        if self.period is None:
            return None
        today = datetime.now(tz).date() - timedelta(days=self.period)
        return datetime.combine(today, datetime.min.time(), tz)


@dataclass(frozen=True)
class Box:
    """A view in WGS84 degrees."""

    west: float
    south: float
    east: float
    north: float

    def __post_init__(self) -> None:
        if not (-180 <= self.west < self.east <= 180 and -90 <= self.south < self.north <= 90):
            raise Inconsistent(f"the view {self.west},{self.south},{self.east},{self.north} is not a box in "
                               "degrees (west < east within ±180, south < north within ±90)")

    def padded(self, degrees: float) -> "Box":
        return Box(max(-180.0, self.west - degrees), max(-90.0, self.south - degrees),
                   min(180.0, self.east + degrees), min(90.0, self.north + degrees))


def cell_size(zoom: int) -> float:
    """The side of a cell in degrees: CELL_PX pixels of a 256-pixel Web Mercator tile at `zoom`."""
    if not 0 <= zoom <= 22:
        raise InvalidInput(f"zoom must be 0–22, not {zoom}")
    return 360.0 / 2 ** zoom * CELL_PX / 256


def view(conn: psycopg.Connection, *, box: Box, zoom: int, filters: MapFilter, scope: dict, me: str,
         limit: int, tz: ZoneInfo) -> dict:
    """{"mode": "points", "truncated", "cases": [rows]} or {"mode": "cells", "total", "cells": [rows]}.

    Up to zoom 17 the cells come from the lattice rollups (docs/rollups.md), and points are fetched when those
    count at most `limit` cases; deeper, or for what the rollups do not slice, the cases are counted one by one.
    """
    since = filters.since(tz)
    params = {**_params(box=box, filters=filters, scope=scope, me=me, since=since, limit=limit),
              "cell": cell_size(zoom)}
    slice_ = _rollup_slice(conn, zoom=zoom, filters=filters, scope=scope, me=me, tz=tz)
    if slice_ is None:
        return _exact(conn, params, zoom=zoom, limit=limit)
    level, dim, val = slice_
    since_day = since.date() if since is not None else None
    raw = rollups.cells(conn, params=params, level=level, zoom=zoom, dim=dim, val=val, since_day=since_day)
    cells = [c for c in (_cell(r, filters.status) for r in raw) if c["count"] > 0]
    total = sum(c["count"] for c in cells)
    if total <= limit:
        rows = conn.cursor(row_factory=dict_row).execute(POINTS, params, prepare=False).fetchall()
        return {"mode": "points", "truncated": False, "cases": rows}
    return {"mode": "cells", "total": total, "cells": cells}


def most_urgent(conn: psycopg.Connection, *, box: Box, filters: MapFilter, scope: dict, me: str, tz: ZoneInfo,
                limit: int, latest_first: bool = False) -> list[dict]:
    """The cases a department holds in the view that pass the filters, soonest deadline first (or latest first),
    at most `limit`: what the map's case list shows when the view holds too many cases to list them all."""
    params = _params(box=box, filters=filters, scope=scope, me=me, since=filters.since(tz), limit=limit)
    query = URGENT.format(order="DESC" if latest_first else "ASC")
    return conn.cursor(row_factory=dict_row).execute(query, params, prepare=False).fetchall()


def _params(*, box: Box, filters: MapFilter, scope: dict, me: str, since: datetime | None, limit: int) -> dict:
    """The query parameters of a view: its box, the reader's scope and the panel's filters."""
    return {"west": box.west, "south": box.south, "east": box.east, "north": box.north, "me": me,
            "major": filters.major or None, "f_department": filters.department or None,
            "f_street": filters.street or None, "status": filters.status or None, "since": since,
            "limit": limit, **scope}


def _rollup_slice(conn, *, zoom: int, filters: MapFilter, scope: dict, me: str,
                  tz: ZoneInfo) -> tuple[int, str, str] | None:
    """(level, dim, val) of the rollup rows that answer this view, or None if only a count of cases can."""
    level = rollups.level_for(zoom)
    departments = {d for d in (scope["department"], filters.department or None) if d is not None}
    if level is None or scope["grids"] is not None or len(departments) > 1:
        return None
    if filters.period is not None and (departments or filters.major or rollups.zone(conn) != str(tz)):
        return None
    if departments and filters.major:
        return None
    if rollups.own_outside_scope(conn, me=me, scope=scope):
        return None
    if departments:
        return level, "d", departments.pop()
    return (level, "m", filters.major) if filters.major else (level, "a", "")


def _cell(r: dict, status: str) -> dict:
    """One output cell as the map draws it, for the status filter: counts, mean position and extent."""
    if status == "open":
        count, open_, overdue, sx, sy = r["o"], r["o"], r["v"], r["ox"], r["oy"]
    elif status == "finished":
        count, open_, overdue, sx, sy = r["a"] - r["o"], 0, 0, r["ax"] - r["ox"], r["ay"] - r["oy"]
    elif status == "overdue":
        count, open_, overdue, sx, sy = r["v"], r["v"], r["v"], r["vx"], r["vy"]
    else:
        count, open_, overdue, sx, sy = r["a"], r["o"], r["v"], r["ax"], r["ay"]
    count = int(count)
    lon, lat = (round(sx / count, 7), round(sy / count, 7)) if count > 0 else (None, None)
    return {"count": count, "open": int(open_), "overdue": int(overdue), "lon": lon, "lat": lat,
            **{k: r[k] for k in ("west", "south", "east", "north")}}


def _exact(conn, params: dict, *, zoom: int, limit: int) -> dict:
    """Count the cases in the box one by one: a count that stops at limit + 1, then the points or the cells.

    Custom plans (prepare=False): a generic plan of these statements reads the whole GiST index."""
    cur = conn.cursor(row_factory=dict_row)
    hits = cur.execute(COUNT, params, prepare=False).fetchone()["count"]
    if hits <= limit or zoom >= 19:
        rows = cur.execute(POINTS, params, prepare=False).fetchall()
        return {"mode": "points", "truncated": hits > limit, "cases": rows}
    cells = cur.execute(CELLS, params, prepare=False).fetchall()
    return {"mode": "cells", "total": sum(c["count"] for c in cells), "cells": cells}
