"""The case rules as SQL functions (migration 0016, inlined) against the literal lists and CASE they replaced: the
same queries of the map, the case list, the dashboard and the export, both texts alternated on the 1M-case database
of bench_views.py (made by `bench_views.py --setup`), median of 14 runs each after 2 warm-ups.

Target: for every query new/old ≤ 1.05, or at most 0.1 ms more (inlining costs the planner some microseconds);
the functions must plan as the lists they stand for.

Usage: .venv/bin/python bench/bench_case_rules.py [database URL, default: bench_views_1m on the local server]
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from dispatch.casework import case_sql

from dispatch.reporting import dashboard

from dispatch.reporting import mapview  # noqa: E402

given = [a for a in sys.argv[1:] if not a.startswith("--")]  # run_all's --quick changes nothing here
url = given[0] if given else "postgresql://postgres@127.0.0.1:5432/bench_views_1m"
HELD_OLD = "c.status IN ('accepted', 'dispatched', 'extension_requested')"
FINAL_OLD = "c.status IN ('closed', 'merged', 'rejected')"
LIGHT_OLD = ("CASE WHEN c.status NOT IN ('accepted', 'dispatched', 'extension_requested') THEN NULL "
             "WHEN now() > c.deadline THEN 'red' WHEN now() >= c.yellow_at THEN 'yellow' ELSE 'green' END")
def old(q):
    return (q.replace(case_sql.LIGHT, LIGHT_OLD).replace(case_sql.IS_OPEN, "NOT " + FINAL_OLD)
             .replace(case_sql.IS_FINAL, FINAL_OLD).replace(case_sql.IS_HELD, HELD_OLD))
scope = {"street": None, "department": None, "grids": None}
box = dict(west=113.05, south=22.95, east=113.2, north=23.08)
base = dict(me="x", major=None, f_department=None, f_street=None, status=None, since=None, limit=200, **box, **scope)
queries = {
  "held by deadline (case list)": (mapview.URGENT.format(order="ASC"), base),
  "points of a small box": (mapview.POINTS, {**base, **dict(west=113.118, south=23.018, east=113.122, north=23.022), "limit": 1000}),
  "cells, status overdue": (mapview.CELLS, {**base, "status": "overdue", "cell": 0.01}),
  "most overdue": (dashboard.TOP_OVERDUE.format(scope=""), {"limit": 10}),
  "export rows (light)": ("SELECT c.id, " + case_sql.LIGHT + " FROM event_case c WHERE c.created_at > now() - interval '3 days'", {}),
}
missed = 0
with psycopg.connect(url) as conn:
    print(conn.execute("SELECT count(*) FROM event_case").fetchone()[0], "cases")
    for name, (q, params) in queries.items():
        assert old(q) != q, name
        times = {"old": [], "new": []}
        for i in range(16):
            for label, text in (("old", old(q)), ("new", q)) if i % 2 else (("new", q), ("old", old(q))):
                t = time.perf_counter(); conn.execute(text, params, prepare=False).fetchall(); times[label].append(time.perf_counter() - t)
        o, n = statistics.median(times["old"][2:]) * 1000, statistics.median(times["new"][2:]) * 1000
        print(f"{name:32s} old {o:8.2f} ms  new {n:8.2f} ms  new/old {n / o:.2f}")
        missed += n > 1.05 * o and n - o > 0.1
print(f"{missed} of {len(queries)} queries missed the target (new/old ≤ 1.05, or at most 0.1 ms more)")
sys.exit(1 if missed else 0)
