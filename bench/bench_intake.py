"""Intake throughput: a grid officer's report taken all the way (locate, duplicate search, register, route with the
stored decision, dispatch with a working-hours deadline, history and outbox rows) against the baseline of the
foundation's intake (locate + open the case, nothing else), measured in the same run on the same points.
Everything runs in one transaction that is rolled back, so the database is left as it was.

Usage: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/citygrid .venv/bin/python bench/bench_intake.py [N]
(the database needs the demo data: run `bash scripts/demo.sh` once).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from dispatch.actor import Actor
from dispatch.intake.reference import Reference
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from gis import repo as gis_repo
from gis.crs import parse_crs
from gis.locator import locate, locate_many

CATEGORIES = ["0102", "0104", "0110", "0201", "0406", "0505", "0301", "0902"]


def points(conn, n: int) -> list[tuple[float, float]]:
    """N random points inside the district (found with the vectorised locator)."""
    ids = gis_repo.active_layer_ids(conn)
    codes, _, _, geoms = gis_repo.layer_features(conn, layer_id=ids["grid"])
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(112.98, 113.16, n * 3), rng.uniform(22.93, 23.08, n * 3)
    inside = [(float(x), float(y)) for x, y, c in zip(lon, lat, locate_many(codes, geoms, lon, lat)) if c]
    return inside[:n]


# The foundation's intake, kept here as this benchmark's baseline (the application files reports through
# dispatch/intake/service.py): one statement for case, report and first history row.
OPEN_CASE = """
WITH new_case AS (
    INSERT INTO event_case (status, category_code, description, geom, release_id,
        district_code, district_name, street_code, street_name,
        community_code, community_name, grid_code, grid_name, zones, source, reporter, urgent)
    VALUES (%(status)s, %(category_code)s, %(description)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
        %(release_id)s, %(district_code)s, %(district_name)s, %(street_code)s, %(street_name)s,
        %(community_code)s, %(community_name)s, %(grid_code)s, %(grid_name)s, %(zones)s, %(source)s,
        %(actor)s, %(urgent)s)
    RETURNING id, geom, created_at
), new_report AS (
    INSERT INTO report (case_id, category_code, description, geom, input_lon, input_lat, input_crs, source,
                        reported_at, reporter)
    SELECT id, %(category_code)s, %(description)s, geom, %(input_lon)s, %(input_lat)s, %(input_crs)s,
           %(source)s, created_at, %(actor)s
    FROM new_case RETURNING id
), first_step AS (
    INSERT INTO case_history (case_id, at, actor, actor_role, action, from_status, to_status, note)
    SELECT id, created_at, %(actor)s, %(actor_role)s, 'report', NULL, %(status)s, %(note)s FROM new_case
    RETURNING id
)
SELECT (SELECT id FROM new_case) AS case_id, (SELECT id FROM new_report) AS report_id,
       (SELECT id FROM first_step) AS history_id
"""


def open_case(conn, **values) -> tuple[int, int, int]:
    """The baseline's one statement; the ids of case, report and history row."""
    row = conn.execute(OPEN_CASE, {**values, "zones": Jsonb(values["zones"])}).fetchone()
    return row[0], row[1], row[2]


def baseline(conn, pts) -> float:
    """The foundation's intake: locate, then one statement for case + report + first history row."""
    started = time.perf_counter()
    for i, (x, y) in enumerate(pts):
        w = locate(conn, lon=x, lat=y, crs="EPSG:4326")
        open_case(conn, status="reported", category_code=CATEGORIES[i % 8], description="bench",
                              lon=w.lon, lat=w.lat, release_id=w.release_id, district_code=w.district.code,
                              district_name=w.district.name, street_code=w.street.code, street_name=w.street.name,
                              community_code=w.community.code, community_name=w.community.name,
                              grid_code=w.grid.code, grid_name=w.grid.name, zones=w.zones, urgent=False,
                              input_lon=x, input_lat=y, input_crs=parse_crs("EPSG:4326"), source="bench",
                              actor="bench", actor_role="grid_officer", note="bench")
    return time.perf_counter() - started


def full(conn, pts) -> tuple[float, dict]:
    """The whole officer intake, as POST /api/reports runs it."""
    officer = Actor("bench", frozenset({"grid_officer"}), street_code=None,
                    grid_codes=frozenset())
    outcomes: dict = {}
    reference = Reference()  # as the app holds one per process
    started = time.perf_counter()
    for i, (x, y) in enumerate(pts):
        street = locate(conn, lon=x, lat=y, crs="EPSG:4326").street.code
        who = Actor(officer.username, officer.roles, street_code=street)
        done = submit_report(conn, actor=who, policy=Policy(), category_code=CATEGORIES[i % 8], lon=x, lat=y,
                             description="bench", reference=reference)
        outcomes[done.status] = outcomes.get(done.status, 0) + 1
    return time.perf_counter() - started, outcomes


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/citygrid")
    with psycopg.connect(url) as conn:
        pts = points(conn, n)
        base_s = baseline(conn, pts)
        conn.rollback()
        full_s, outcomes = full(conn, pts)
        conn.rollback()
    print(f"reports: {len(pts)} at random points inside the district; outcomes of the full path: {outcomes}")
    print(f"baseline  locate + open case (foundation)       : {len(pts) / base_s:8.1f} reports/s "
          f"({base_s * 1000 / len(pts):.2f} ms each)")
    print(f"candidate full officer intake (route + dispatch): {len(pts) / full_s:8.1f} reports/s "
          f"({full_s * 1000 / len(pts):.2f} ms each)")
    print(f"cost of registering, routing and dispatching: {full_s / base_s:.1f}x the baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
