"""Locator throughput on the Chancheng grids: one SQL query per point (the baseline) against the vectorised
in-process `locate_many` (same lowest-code rule), measured in the same run on the same random points.

Usage: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/citygrid .venv/bin/python bench/bench_locate.py [N]
(the database needs an active release: run the demo once, or `citygrid grids …`).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import psycopg

from gis import repo
from gis.errors import OutsideDistrict
from gis.locator import locate, locate_many


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/citygrid")
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(112.98, 113.16, n), rng.uniform(22.93, 23.08, n)
    with psycopg.connect(url) as conn:
        ids = repo.active_layer_ids(conn)
        if ids is None:
            print("no active grid release in", url)
            return 1
        started = time.perf_counter()
        codes, _, _, geoms = repo.layer_features(conn, layer_id=ids["grid"])
        load = time.perf_counter() - started
        started = time.perf_counter()
        sql_codes = []
        for x, y in zip(lon, lat):
            try:
                sql_codes.append(locate(conn, lon=float(x), lat=float(y)).grid.code)
            except OutsideDistrict:
                sql_codes.append(None)
        sql_s = time.perf_counter() - started
        started = time.perf_counter()
        bulk = locate_many(codes, geoms, lon, lat)
        bulk_s = time.perf_counter() - started
    assert list(bulk) == sql_codes, "the two paths disagree"
    print(f"points: {n}, unit grids: {len(codes)}, inside the district: {sum(c is not None for c in sql_codes)}")
    print(f"baseline  locate() one SQL query per point : {n / sql_s:10,.0f} points/s ({sql_s * 1000 / n:.2f} ms each)")
    print(f"candidate locate_many() vectorised STRtree : {n / bulk_s:10,.0f} points/s "
          f"(+ {load * 1000:.0f} ms once to load the grids)")
    print(f"ratio candidate/baseline: {sql_s / bulk_s:.1f}x; results identical: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
