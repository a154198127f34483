"""Bulk import of N rows (default 1,000,000), located and routed, with history rows and indexes, against two
references in the same run, each run into a fresh database cloned from one Chancheng template:

  (a) plain COPY of the file's rows into a bare table (no checks, no locating, no indexes);
  (b) geopandas: the same import, but locating with geopandas `sjoin` (covered_by, lowest code on shared edges),
      writing the same tables, history rows and indexes;
  (c) the platform: `dispatch.exchange.bulk_import.import_events` as `citygrid events import` runs it (streamed in chunks,
      STRtree `locate_many`).

Runs alternate c, b, a, c, b, a… (`--pairs`, default 3); the per-pair ratios of rows/s are reported as median
(min–max). (b) and (c) must write identical cases (a digest of every case's place, zones, department, status,
closing time and, for history rows, deadline; reports are dispatched at import time, so their deadlines differ by
the minutes between runs) and the same row counts. Each import runs in a child process, so its peak RSS is its
own (VmHWM, read by the child); then (c) runs once on a 5M-row file (`--big`, skip with `--no-big`) for memory.

Rows: 80 % history (65 % closed, 10 % accepted, 5 % rejected), 20 % reports to route now; 0.5 % of the points
fall outside the district and are skipped. Files are written to /tmp and deleted; databases are named
cg_bench_bulk_* and dropped. Usage: .venv/bin/python bench/bench_bulk_import.py [N] [--quick] [--no-big]
(CITYGRID_BENCH_SERVER or DATABASE_URL: the server, default postgresql://postgres@127.0.0.1:5432/postgres;
only its databases named cg_bench_bulk_* are touched). A full run takes about 25 minutes on an idle 2-core
machine (the 3 pairs at 1M about 13, the 5M run about 10), twice that under load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

SERVER = (os.environ.get("CITYGRID_BENCH_SERVER") or os.environ.get("DATABASE_URL")
          or "postgresql://postgres@127.0.0.1:5432/postgres")
RUN = uuid.uuid4().hex[:6]
COLUMNS = {"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
           "description": "text", "status": "status", "closed_at": "closed", "department": "dept"}
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
    from citygrid import migrate
    from citygrid.demo import CATEGORIES, DEPARTMENTS, RULES, load_chancheng
    from dispatch.routing.departments import import_departments
    from dispatch.routing.rules import import_rules
    from events.service import import_categories

    name = f"cg_bench_bulk_{RUN}_template"
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url(name)) as conn:
        migrate.upgrade(conn)
        load_chancheng(conn, widths=(6, 3, 3, 2))
        import_categories(conn, path=CATEGORIES)
        import_departments(conn, path=DEPARTMENTS)
        import_rules(conn, path=RULES, by="bench")
    return name


def make_file(n: int, template: str, path: Path, block: int = 500_000) -> Path:
    """N rows of a plausible 12345 export (history and fresh reports, a few outside), written block by block."""
    import shapely

    from gis.locator import locate_many

    rng = np.random.default_rng(2026)
    with psycopg.connect(url(template)) as conn:
        public = [r[0] for r in conn.execute("SELECT code FROM category WHERE public ORDER BY code")]
        departments = [r[0] for r in conn.execute("SELECT code FROM department ORDER BY code")]
        grids = conn.execute("SELECT g.code, ST_AsBinary(g.geom) FROM grid_feature g JOIN grid_release r "
                             "ON g.layer_id = r.grid_layer_id WHERE r.is_active").fetchall()
    codes, shapes = [g[0] for g in grids], shapely.from_wkb([g[1] for g in grids])
    now = datetime.now(timezone.utc)
    for start in range(0, n, block):
        k = min(block, n - start)
        lon, lat = [], []
        while len(lon) < k:
            x, y = rng.uniform(112.98, 113.16, k), rng.uniform(22.93, 23.08, k)
            inside = pd.notna(locate_many(codes, shapes, x, y))
            lon.extend(x[inside]), lat.extend(y[inside])
        lon, lat = np.array(lon[:k]), np.array(lat[:k])
        lon[rng.random(k) < 0.005] += 1.0  # skipped as outside the district
        reported = pd.to_datetime(now - pd.to_timedelta(rng.integers(3600, 365 * 86400, k), unit="s")).tz_convert(
            "Asia/Shanghai")
        kind = rng.random(k)
        status = np.select([kind < 0.65, kind < 0.75, kind < 0.80], ["closed", "accepted", "rejected"], "")
        closed = reported + pd.to_timedelta(rng.integers(600, 10 * 86400, k), unit="s")
        closed = np.where((status == "closed") & (closed < now), closed.strftime("%Y-%m-%dT%H:%M:%S+08:00"), "")
        status = np.where((status == "closed") & (closed == ""), "accepted", status)  # not closed yet
        dept = np.where(np.isin(status, ["closed", "accepted"]), rng.choice(departments, k), "")
        frame = pd.DataFrame({"id": [f"12345-{i:07d}" for i in range(start, start + k)],
                              "type": rng.choice(public, k), "x": lon.round(7), "y": lat.round(7),
                              "time": reported.strftime("%Y-%m-%dT%H:%M:%S+08:00"), "text": "市民来电反映问题",
                              "status": status, "closed": closed, "dept": dept})
        frame.to_csv(path, index=False, mode="a" if start else "w", header=not start)
    return path


def sjoin_locator(codes: list[str], shapes: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(b): geopandas sjoin, covered_by, the lowest grid code where a point lies on a shared edge."""
    import geopandas as gpd

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    grids = gpd.GeoDataFrame({"code": codes}, geometry=shapes, crs="EPSG:4326")
    joined = gpd.sjoin(points, grids, how="left", predicate="covered_by")
    lowest = joined.groupby(level=0)["code"].min()
    return lowest.reindex(range(len(lon))).to_numpy(dtype=object)


def peak_rss_mb() -> float:
    """This process's peak resident set size since its exec (VmHWM: getrusage's maxrss would include the memory
    of the parent it was forked from)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def child(way: str, name: str, path: str) -> None:
    """One import in this (child) process; prints its figures as JSON."""
    with psycopg.connect(url(name)) as conn:
        started = time.perf_counter()
        if way == "a":
            conn.execute("CREATE TABLE bare (id text, type text, x float8, y float8, time timestamptz, text text, "
                         "status text, closed timestamptz, dept text)")
            with conn.cursor().copy("COPY bare FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            conn.commit()
            print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb()}))
            return
        from dispatch.exchange.bulk_import import Mapping, import_events
        from dispatch.models import Policy
        from gis.locator import locate_many

        result = import_events(conn, path=path, mapping=Mapping(COLUMNS, source="bench"), policy=Policy(),
                               by="bench", locator=sjoin_locator if way == "b" else locate_many)
        conn.commit()
        seconds = time.perf_counter() - started
        digest = conn.execute(DIGEST).fetchone()
    print(json.dumps({"seconds": seconds, "stages": result.seconds, "imported": result.imported,
                      "skipped": len(result.skipped), "digest": list(digest), "rss_mb": peak_rss_mb()}))


def run(way: str, template: str, path: Path, label: str) -> dict:
    """Clone the template, run one import in a child process, drop the clone; its figures and peak RSS (MB)."""
    name = f"cg_bench_bulk_{RUN}_{label}"
    admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    try:
        try:  # start each run from a clean checkpoint, so the one before does not leave its WAL to this one
            admin("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass
        proc = subprocess.Popen([sys.executable, __file__, "--child", way, name, str(path)], stdout=subprocess.PIPE,
                                text=True)
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"the {way} import failed (exit {proc.returncode})")
    finally:
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return json.loads(out.strip().splitlines()[-1])


def ratio_text(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bulk import: the platform against plain COPY and geopandas")
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="rows of the paired runs")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, no 5M run (a smoke run)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--big", type=int, default=5_000_000, help="rows of the single run for memory")
    parser.add_argument("--no-big", action="store_true", help="skip the run for memory")
    parser.add_argument("--child", nargs=3, metavar=("WAY", "DB", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    n = 50_000 if args.quick else args.n
    template = make_template()
    try:
        with tempfile.TemporaryDirectory(prefix="bench_bulk_", dir="/tmp") as folder:
            return _measure(args, n, template, Path(folder))
    finally:
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(template)))


def _measure(args, n: int, template: str, folder: Path) -> int:
    t = time.perf_counter()
    path = make_file(n, template, folder / f"bench_{n}.csv")
    print(f"{n:,} rows written to a {path.stat().st_size / 1e6:.0f} MB CSV in {time.perf_counter() - t:.1f} s",
          flush=True)
    runs = {"a": [], "b": [], "c": []}
    for i in range(args.pairs):
        for way in ("c", "b", "a"):
            runs[way].append(run(way, template, path, f"{way}{i}"))
            print(f"  pair {i + 1} ({way}): {n / runs[way][-1]['seconds']:,.0f} rows/s, "
                  f"peak RSS {runs[way][-1]['rss_mb']:,.0f} MB", flush=True)
    same = all(b["digest"] == c["digest"] for b, c in zip(runs["b"], runs["c"]))
    print(f"\n## Bulk import, {n:,} rows (history included), {args.pairs} pairs\n")
    print("| route | median s | median rows/s | peak RSS MB |\n|---|---|---|---|")
    names = {"a": "(a) plain COPY into a bare table", "b": "(b) geopandas sjoin + the same checks, routing, COPY",
             "c": "(c) citygrid events import (streamed, STRtree)"}
    for way in ("a", "b", "c"):
        seconds = statistics.median(r["seconds"] for r in runs[way])
        print(f"| {names[way]} | {seconds:.1f} | {n / seconds:,.0f} | {max(r['rss_mb'] for r in runs[way]):,.0f} |")
    c_over = {ref: [r["seconds"] / c["seconds"] for r, c in zip(runs[ref], runs["c"])] for ref in ("a", "b")}
    print(f"\n(c) / (b) rows/s per pair: {ratio_text(c_over['b'])}; (c) / (a): {ratio_text(c_over['a'])}")
    c = runs["c"][0]
    print(f"identical output of (b) and (c): {same}; imported {c['imported']:,}, skipped {c['skipped']:,}; cases "
          f"{c['digest'][0]:,}, reports {c['digest'][2]:,}, history rows {c['digest'][3]:,}, routing decisions "
          f"{c['digest'][4]:,}")
    print(f"(c) stages of pair 1 (s): {c['stages']}")
    if not (args.quick or args.no_big):
        path.unlink()
        t = time.perf_counter()
        big = make_file(args.big, template, folder / f"bench_{args.big}.csv")
        print(f"\n{args.big:,} rows written to a {big.stat().st_size / 1e6:.0f} MB CSV in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        one = run("c", template, big, "big")
        print(f"\n| (c) once, {args.big:,} rows | seconds | rows/s | peak RSS MB |\n|---|---|---|---|")
        print(f"| citygrid events import | {one['seconds']:.1f} | {args.big / one['seconds']:,.0f} | "
              f"{one['rss_mb']:,.0f} |")
    return 0 if same else 1


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
