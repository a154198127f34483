"""Bulk import of N rows (default 1,000,000), located and routed, with history rows and indexes, three ways in
one run, each into a fresh database cloned from the same Chancheng template:

  (a) baseline: a plain COPY of the file's rows into a bare table (no checks, no locating, no indexes);
  (b) the geopandas route: the same import, but locating with geopandas `sjoin` (predicate covered_by, lowest code
      on shared edges), writing the same tables, history rows and indexes;
  (c) candidate: `citygrid events import` as shipped (shapely STRtree `locate_many`, same everything else).

(b) and (c) must write identical cases (checked with a digest of every case's place, zones, department, status,
closing time and, for history rows, deadline; reports are dispatched at import time, so their deadlines differ
by the minutes between the runs), and the same row counts of report, case_history and routing_decision.

Rows: 80% history (65% closed, 10% accepted, 5% rejected), 20% reports to route now; 0.5% of the points fall
outside the district and are skipped. Usage: .venv/bin/python bench/bench_bulk_import.py [N]
(DATABASE_URL: the server to use, default postgresql://postgres@127.0.0.1:5432/postgres).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from citygrid import migrate
from citygrid.demo import CATEGORIES, DEPARTMENTS, RULES, load_chancheng
from dispatch.bulk_import import Mapping, import_events
from dispatch.departments import import_departments
from dispatch.models import Policy
from dispatch.rules import import_rules
from events.service import import_categories
from gis.locator import locate_many

SERVER = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN = uuid.uuid4().hex[:6]
MAPPING = Mapping({"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
                   "description": "text", "status": "status", "closed_at": "closed", "department": "dept"},
                  source="bench")
DIGEST = """
SELECT count(*), md5(string_agg(concat_ws('|', external_id, grid_code, street_code, department_code, status,
                                         -- a report's clock starts at its import: compare the history's
                                         CASE WHEN imported THEN deadline END, CASE WHEN imported THEN yellow_at END,
                                         closed_at, zones), ',' ORDER BY external_id)),
       (SELECT count(*) FROM report), (SELECT count(*) FROM case_history), (SELECT count(*) FROM routing_decision)
FROM event_case
"""


def url(name: str) -> str:
    return make_conninfo(SERVER, dbname=name)


def admin(query, *args) -> None:
    with psycopg.connect(url("postgres"), autocommit=True) as conn:
        conn.execute(query, *args)


def make_template() -> str:
    name = f"cg_bench_{RUN}_template"
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url(name)) as conn:
        migrate.upgrade(conn)
        load_chancheng(conn, widths=(6, 3, 3, 2))
        import_categories(conn, path=CATEGORIES)
        import_departments(conn, path=DEPARTMENTS)
        import_rules(conn, path=RULES, by="bench")
    return name


def clone(template: str, label: str) -> str:
    name = f"cg_bench_{RUN}_{label}"
    admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return name


def make_file(n: int, template: str, folder: Path) -> Path:
    """N rows of a plausible 12345 export: history and fresh reports, inside the district (a few outside)."""
    rng = np.random.default_rng(2026)
    with psycopg.connect(url(template)) as conn:
        public = [r[0] for r in conn.execute("SELECT code FROM category WHERE public ORDER BY code")]
        departments = [r[0] for r in conn.execute("SELECT code FROM department ORDER BY code")]
        grids = conn.execute("SELECT g.code, ST_AsBinary(g.geom) FROM grid_feature g JOIN grid_release r "
                             "ON g.layer_id = r.grid_layer_id WHERE r.is_active").fetchall()
    import shapely
    codes, shapes = [g[0] for g in grids], shapely.from_wkb([g[1] for g in grids])
    lon, lat = [], []
    while len(lon) < n:
        x, y = rng.uniform(112.98, 113.16, n), rng.uniform(22.93, 23.08, n)
        inside = pd.notna(locate_many(codes, shapes, x, y))
        lon.extend(x[inside]), lat.extend(y[inside])
    lon, lat = np.array(lon[:n]), np.array(lat[:n])
    outside = rng.random(n) < 0.005
    lon[outside] += 1.0  # skipped as outside the district
    now = datetime.now(timezone.utc)
    reported = pd.to_datetime(now - pd.to_timedelta(rng.integers(3600, 365 * 86400, n), unit="s")).tz_convert(
        "Asia/Shanghai")
    kind = rng.random(n)
    status = np.select([kind < 0.65, kind < 0.75, kind < 0.80], ["closed", "accepted", "rejected"], "")
    closed = reported + pd.to_timedelta(rng.integers(600, 10 * 86400, n), unit="s")
    closed = np.where((status == "closed") & (closed < now), closed.strftime("%Y-%m-%dT%H:%M:%S+08:00"), "")
    status = np.where((status == "closed") & (closed == ""), "accepted", status)  # not closed yet
    dept = np.where(np.isin(status, ["closed", "accepted"]), rng.choice(departments, n), "")
    frame = pd.DataFrame({"id": [f"12345-{i:07d}" for i in range(n)], "type": rng.choice(public, n),
                          "x": lon.round(7), "y": lat.round(7), "time": reported.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                          "text": "市民来电反映问题", "status": status, "closed": closed, "dept": dept})
    path = folder / f"bench_{n}.csv"
    frame.to_csv(path, index=False)
    return path


def sjoin_locator(codes: list[str], shapes: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(b): geopandas sjoin, covered_by, the lowest grid code where a point lies on a shared edge."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    grids = gpd.GeoDataFrame({"code": codes}, geometry=shapes, crs="EPSG:4326")
    joined = gpd.sjoin(points, grids, how="left", predicate="covered_by")
    lowest = joined.groupby(level=0)["code"].min()
    return lowest.reindex(range(len(lon))).to_numpy(dtype=object)


def plain_copy(name: str, path: Path) -> float:
    """(a): the file's bytes into a bare table."""
    with psycopg.connect(url(name)) as conn:
        conn.execute("CREATE TABLE bare (id text, type text, x float8, y float8, time timestamptz, text text, "
                     "status text, closed timestamptz, dept text)")
        started = time.perf_counter()
        with conn.cursor().copy("COPY bare FROM STDIN (FORMAT csv, HEADER true)") as copy, path.open("rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - started


def run_import(name: str, path: Path, locator) -> tuple[float, object, tuple]:
    try:  # start each run from a clean checkpoint, so the one before does not leave its WAL to this one
        admin("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass
    with psycopg.connect(url(name)) as conn:
        started = time.perf_counter()
        result = import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="bench", locator=locator)
        conn.commit()
        seconds = time.perf_counter() - started
        digest = conn.execute(DIGEST).fetchone()
    return seconds, result, digest


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    template = make_template()
    made = [template]
    try:
        with tempfile.TemporaryDirectory() as folder:
            t = time.perf_counter()
            path = make_file(n, template, Path(folder))
            print(f"{n:,} rows written to a {path.stat().st_size / 1e6:.0f} MB CSV in {time.perf_counter() - t:.1f} s")
            runs = {}
            for label in ("a", "b", "c"):
                made.append(clone(template, label))
            runs["a"] = (plain_copy(made[1], path), None, None)
            runs["b"] = run_import(made[2], path, sjoin_locator)
            runs["c"] = run_import(made[3], path, locate_many)
    finally:
        for name in made:
            admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    (a, _, _), (b, rb, db), (c, rc, dc) = runs["a"], runs["b"], runs["c"]
    print(f"(a) plain COPY into a bare table:            {a:7.1f} s  {n / a:>9,.0f} rows/s")
    print(f"(b) geopandas sjoin + COPY, same tables:      {b:7.1f} s  {n / b:>9,.0f} rows/s  stages {rb.seconds}")
    print(f"(c) citygrid events import (STRtree + COPY):  {c:7.1f} s  {n / c:>9,.0f} rows/s  stages {rc.seconds}")
    print(f"imported {rc.imported:,} ({rc.history:,} history, {rc.reports:,} reports: {rc.dispatched:,} dispatched), "
          f"skipped {len(rc.skipped):,}; cases {dc[0]:,}, reports {dc[2]:,}, history rows {dc[3]:,}, "
          f"routing decisions {dc[4]:,}")
    print(f"identical output of (b) and (c): {db == dc}")
    print(f"(c) is {b / c:.2f}x the speed of (b); (c) runs at {a / c:.2%} of the plain COPY's speed (a)")
    copy_b = sum(v for k, v in rb.seconds.items() if k.startswith("copy"))
    copy_c = sum(v for k, v in rc.seconds.items() if k.startswith("copy"))
    print(f"locating: (b) {rb.seconds['locate']:.1f} s, (c) {rc.seconds['locate']:.1f} s; the shared COPY stages: "
          f"(b) {copy_b:.1f} s, (c) {copy_c:.1f} s (the same work: their difference is the run-to-run noise)")
    return 0 if db == dc else 1


if __name__ == "__main__":
    raise SystemExit(main())
