"""The cases in a map view, aggregated on the server: the map never receives more than `limit` markers.

A view is a box, a zoom level, the filters of the map's panel and the reader's scope. When at most `limit` cases
match, the map gets them one by one (`points`). Otherwise it gets `cells`: the matching cases counted per square
of about CELL_PX screen pixels at that zoom (one grouped scan in PostgreSQL), each with its open and overdue counts,
the mean position of its cases and their extent (a click on a cell zooms to it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from gis.errors import InvalidInput

CELL_PX = 64          # the side of a cell on screen, in pixels at the requested zoom
STATUS_FILTERS = ("open", "overdue", "finished")
MAX_PERIOD_DAYS = 3660

# The traffic light of a case a department holds (red: overdue, yellow: due soon); the export shares it.
LIGHT = """CASE WHEN c.status NOT IN ('dispatched', 'accepted', 'extension_requested') THEN NULL
            WHEN now() > c.deadline THEN 'red' WHEN now() >= c.yellow_at THEN 'yellow' ELSE 'green' END"""

# The reader's scope (or their own reports) and the map panel's filters; the export (dispatch/export.py) adds
# its own day range to the same conditions.
FILTERS = """
      ((%(street)s::text IS NULL OR c.street_code = %(street)s)
       AND (%(department)s::text IS NULL OR c.department_code = %(department)s)
       AND (%(grids)s::text[] IS NULL OR c.grid_code = ANY(%(grids)s))
       OR %(me)s::text IS NOT NULL AND c.reporter = %(me)s)
  AND (%(major)s::text IS NULL OR left(c.category_code, 2) = %(major)s)
  AND (%(f_department)s::text IS NULL OR c.department_code = %(f_department)s)
  AND (%(f_street)s::text IS NULL OR c.street_code = %(f_street)s)
  AND (%(status)s::text IS NULL
       OR %(status)s = 'open' AND c.status NOT IN ('closed', 'rejected', 'merged')
       OR %(status)s = 'finished' AND c.status IN ('closed', 'rejected', 'merged')
       OR %(status)s = 'overdue' AND c.status IN ('dispatched', 'accepted', 'extension_requested')
                                 AND now() > c.deadline)
  AND (%(since)s::timestamptz IS NULL OR c.created_at >= %(since)s)
"""

WHERE = """
WHERE c.geom && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)
  AND """ + FILTERS

COUNT = "SELECT count(*) FROM (SELECT 1 FROM event_case c " + WHERE + " LIMIT %(limit)s + 1) hit"

POINTS = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description, c.reporter,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.grid_code, c.street_code, c.community_code, c.created_at,
       c.department_code, c.deadline, """ + LIGHT + """ AS light
FROM event_case c JOIN category cat ON cat.code = c.category_code
""" + WHERE + """
ORDER BY c.status IN ('closed', 'rejected', 'merged'), c.created_at DESC, c.id DESC  -- open cases first
LIMIT %(limit)s
"""

CELLS = """
SELECT count(*) AS count,
       count(*) FILTER (WHERE c.status NOT IN ('closed', 'rejected', 'merged')) AS open,
       count(*) FILTER (WHERE c.status IN ('dispatched', 'accepted', 'extension_requested')
                          AND now() > c.deadline) AS overdue,
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
            raise InvalidInput(f"the view {self.west},{self.south},{self.east},{self.north} is not a box in "
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

    At most two statements: a count that stops at limit + 1, then the points or the grouped cells. At the deepest
    zoom the points are given even beyond the limit: the open and newest `limit` of them.
    """
    params = {"west": box.west, "south": box.south, "east": box.east, "north": box.north, "me": me,
              "major": filters.major or None, "f_department": filters.department or None,
              "f_street": filters.street or None, "status": filters.status or None, "since": filters.since(tz),
              "limit": limit, "cell": cell_size(zoom), **scope}
    cur = conn.cursor(row_factory=dict_row)
    hits = cur.execute(COUNT, params).fetchone()["count"]
    if hits <= limit or zoom >= 19:
        rows = cur.execute(POINTS, params).fetchall()
        return {"mode": "points", "truncated": hits > limit, "cases": rows}
    cells = cur.execute(CELLS, params).fetchall()
    return {"mode": "cells", "total": sum(c["count"] for c in cells), "cells": cells}
