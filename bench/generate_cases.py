"""Load N synthetic cases (default 100,000) into a citygrid database with COPY, for load tests of the map.

Points are random inside the district (vectorised locator), categories and statuses drawn from a fixed
distribution, creation times spread over the last year, departments from the active rules' usual recipients.
Each case gets one `report` history row. The rows are marked `source = 'generated'` so they can be told apart
(and removed: DELETE … WHERE source = 'generated'). Triggers are skipped for the load (no 100,000 notifications).

Usage: DATABASE_URL=postgresql://…/citygrid .venv/bin/python bench/generate_cases.py [N]
(the database needs the demo data: run `bash scripts/demo.sh` once).
"""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg

from gis import repo as gis_repo
from gis.locator import locate_many

STATUSES = ["closed"] * 55 + ["dispatched"] * 12 + ["accepted"] * 15 + ["handled"] * 6 + ["registered"] * 4 + \
    ["rejected"] * 4 + ["returned"] * 2 + ["extension_requested"] * 2
HELD = {"dispatched", "accepted", "extension_requested", "handled", "closed"}
COLUMNS = ("status", "category_code", "description", "geom", "release_id", "district_code", "district_name",
           "street_code", "street_name", "community_code", "community_name", "grid_code", "grid_name", "source",
           "reporter", "department_code", "dispatched_at", "clock_start", "deadline", "yellow_at", "created_at",
           "updated_at", "closed_at", "dispatch_count")


def chain(conn) -> tuple[int, dict, list, np.ndarray]:
    """The active release, code → name of every level, and the unit grids for the locator."""
    release = conn.execute("SELECT id FROM grid_release WHERE is_active").fetchone()[0]
    ids = gis_repo.active_layer_ids(conn)
    names, parents = {}, {}
    for level in ("district", "street", "community", "grid"):
        codes, labels, parent_codes, geoms = gis_repo.layer_features(conn, layer_id=ids[level])
        names.update(zip(codes, labels))
        parents.update(zip(codes, parent_codes))
    grid_codes, _, _, grid_geoms = gis_repo.layer_features(conn, layer_id=ids["grid"])
    return release, {"names": names, "parents": parents}, grid_codes, grid_geoms


def rows(conn, n: int, rng):
    """Yield COPY rows for n cases."""
    release, places, grid_codes, grid_geoms = chain(conn)
    categories = [r[0] for r in conn.execute("SELECT code FROM category WHERE public").fetchall()]
    departments = [r[0] for r in conn.execute("SELECT code FROM department").fetchall()]
    inside: list = []
    while len(inside) < n:  # about half of the bounding box is inside the district
        lon, lat = rng.uniform(112.98, 113.16, n), rng.uniform(22.93, 23.08, n)
        located = locate_many(grid_codes, grid_geoms, lon, lat)
        inside += [(x, y, g) for x, y, g in zip(lon, lat, located) if g]
    inside = inside[:n]
    now = datetime.now(timezone.utc)
    for i, (x, y, grid) in enumerate(inside):
        community = places["parents"][grid]
        street = places["parents"][community]
        district = places["parents"][street]
        status = STATUSES[rng.integers(len(STATUSES))]
        created = now - timedelta(minutes=int(rng.integers(0, 365 * 24 * 60)))
        held = status in HELD
        dispatched = created + timedelta(minutes=5) if held else None
        deadline = dispatched + timedelta(hours=int(rng.integers(2, 72))) if held else None
        yellow = dispatched + (deadline - dispatched) * 0.8 if held else None
        closed = created + timedelta(hours=int(rng.integers(3, 200))) if status == "closed" else None
        yield (status, categories[i % len(categories)], f"generated case {i}", f"SRID=4326;POINT({x} {y})",
               release, district, places["names"][district], street, places["names"][street], community,
               places["names"][community], grid, places["names"][grid], "generated", "generator",
               departments[i % len(departments)] if held else None, dispatched, dispatched, deadline, yellow,
               created, closed or created, closed, 1 if held else 0)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/citygrid")
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")  # no workflow or notify triggers for the load
        before = conn.execute("SELECT coalesce(max(id), 0) FROM event_case").fetchone()[0]
        before_count = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
        data = list(rows(conn, n, np.random.default_rng(42)))  # its queries must finish before COPY starts
        with conn.cursor().copy(f"COPY event_case ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        conn.execute("INSERT INTO case_history (case_id, at, actor, actor_role, action, to_status, note) "
                     "SELECT id, created_at, 'generator', 'grid_officer', 'report', 'reported', 'generated' "
                     "FROM event_case WHERE id > %s", (before,))
        conn.execute("ANALYZE event_case")
        total = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
    print(f"loaded {total - before_count} generated cases in {time.perf_counter() - started:.1f} s; the database now holds {total} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
