"""The leader's map views and dashboard panel over HTTP at 100k and 1M cases: p50/p95 per view, and 1M/100k.

Two databases with the demo data and `bench/generate_cases.py N` cases (made by --setup if missing), one real
uvicorn per database on loopback, httpx clients at concurrency 1 and 8, warm. The views are those the map page
asks for (view.js: the map's bounds padded by a quarter on each side, at a 1600×900 viewport): the whole district
at zoom 11 and 12, each street at 14, 20 random boxes at 16–17, each without and with one filter (round robin:
category, status overdue, 7 days, department, status open), the grid shading, the dashboard panel
(dashboard.js: /api/dashboard, then its two /api/evaluation calls at once) and /api/evaluation alone. Between
rounds three reports are filed and one case is accepted, so a response cache could not answer; the worker's
rollup compaction runs once per round, as the worker's tick does.

Pairs: rounds alternate 100k and 1M (A B A B, at least three pairs); per view the ratio of the two rounds' p95
is taken per pair, and the median with min–max is printed. The generic plans checked are printed at the end.

Usage: .venv/bin/python bench/bench_views.py [--setup] [--pairs 3] [--quick] [--small bench_views_100k]
       [--large bench_views_1m]
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from citygrid import migrate
from citygrid.procs import answers, free_port, running
from dispatch.accounts import add_user, issue_token
from dispatch.actor import Actor
from dispatch.casework.cases import act
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from dispatch.reporting import rollups
from dispatch.reporting.dashboard import SCOPE_PARTS, TOP_OVERDUE
from dispatch.reporting.mapview import MapFilter
from gis import repo as gis_repo

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = ZoneInfo("Asia/Shanghai")
WIDTH, HEIGHT = 1600, 900
FILTERS = ["major=01", "status=overdue", "period=7", "department=S-012-HWS", "status=open"]
FULL = {"street": None, "department": None, "grids": None}


def url_of(db: str) -> str:
    return make_conninfo(SERVER, dbname=db)


def setup(db: str, n: int) -> None:
    """A database with the demo data, the migrations and n generated cases (kept if it exists)."""
    with psycopg.connect(url_of("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    from citygrid.demo import prepare
    with psycopg.connect(url_of(db)) as conn:
        migrate.upgrade(conn)
    with psycopg.connect(url_of(db)) as conn, conn.transaction():
        prepare(conn, widths=(6, 3, 3, 2), policy=Policy())
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate_cases.py"), str(n)], check=True,
                   env={**os.environ, "DATABASE_URL": url_of(db)})
    with psycopg.connect(url_of(db)) as conn:
        rollups.compact(conn)  # what the worker would do with the load's deltas
        conn.commit()
    with psycopg.connect(url_of(db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def serve(db: str) -> tuple[str, object]:
    """`citygrid serve` (its production settings: uvloop, httptools, the default 10 connections) on a free port:
    its base URL and the context manager that runs it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url_of(db), "CITYGRID_ENV": "development"}
    return base, running([sys.executable, "-m", "citygrid", "serve", "--port", str(port)], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, ready=answers(f"{base}/api/health"))


def leader_token(db: str) -> str:
    with psycopg.connect(url_of(db)) as conn:
        if not conn.execute("SELECT 1 FROM app_user WHERE username = 'bench-leader'").fetchone():
            add_user(conn, username="bench-leader", roles=["leader"], password=os.urandom(16).hex())
        token = issue_token(conn, username="bench-leader", label="bench_views")
        conn.commit()
    return token


def box(lon: float, lat: float, zoom: int) -> str:
    """The query view.js sends for a 1600×900 map centred there: its bounds padded by 0.25 on each side."""
    width = WIDTH / 256 * 360 / 2 ** zoom
    height = HEIGHT / 256 * 360 / 2 ** zoom * math.cos(math.radians(lat))
    w, e = lon - width * 0.75, lon + width * 0.75
    s, n = lat - height * 0.75, lat + height * 0.75
    return f"west={w:.6f}&south={s:.6f}&east={e:.6f}&north={n:.6f}&zoom={zoom}"


def views(db: str, quick: bool) -> list[tuple[str, str]]:
    """(zoom label, path) of every view of a round, the same for both databases."""
    with psycopg.connect(url_of(db)) as conn:
        ids = gis_repo.active_layer_ids(conn)
        _, _, _, district = gis_repo.layer_features(conn, layer_id=ids["district"])
        codes, _, _, streets = gis_repo.layer_features(conn, layer_id=ids["street"])
    c = district[0].centroid
    out = [("z11", box(c.x, c.y, 11)), ("z12", box(c.x, c.y, 12))]
    out += [("z14", box(g.centroid.x, g.centroid.y, 14)) for g in streets]
    rng = random.Random(17)
    x0, y0, x1, y1 = district[0].bounds
    boxes = []
    while len(boxes) < (4 if quick else 20):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if district[0].contains(type(c)(x, y)):
            z = 16 + len(boxes) % 2
            boxes.append((f"z{z}", box(x, y, z)))
    out += boxes
    with_filters = [(z, f"/api/map/cases?{q}&{FILTERS[i % len(FILTERS)]}") for i, (z, q) in enumerate(out)]
    # the case list of a crowded view (panels.js: the held cases by deadline), for the district and each street
    case_lists = [("case list", f"/api/map/urgent?{q}&order=soonest&limit=200") for _, q in out[:2 + len(streets)]]
    street_panels = [("street panel", f"panel?street={code}") for code in codes]
    return ([(z, f"/api/map/cases?{q}") for z, q in out] + with_filters + [("grid shading", "/api/map/grid-load")]
            + case_lists + street_panels + [("map page", "/map")])


def panel(client: httpx.Client, month: str, street: str = "") -> None:
    """What dashboard.js loads at once: the figures, then both evaluations side by side (with the map's street
    filter when one is chosen)."""
    client.get(f"/api/dashboard?{street}").raise_for_status()
    with ThreadPoolExecutor(2) as pool:
        for r in pool.map(client.get, [f"/api/evaluation?by=department&period={month}&{street}",
                                       f"/api/evaluation?by=street&period={month}&{street}"]):
            r.raise_for_status()


REFUSED: dict[tuple[str, int, str], int] = {}  # (database, concurrency, view) → answers 503 (the server's gate)


def timed(client: httpx.Client, label: str, path: str, month: str) -> tuple[str, float | None]:
    """(label, seconds), or (label, None) when the server's request gate answered 503 (it was too busy)."""
    started = time.perf_counter()
    try:
        if path.startswith("panel"):
            panel(client, month, path.partition("?")[2])
        else:
            client.get(path).raise_for_status()
    except httpx.HTTPStatusError as refused:
        if refused.response.status_code != 503:
            raise
        return label, None
    return label, time.perf_counter() - started


def change_cases(db: str, rng: random.Random) -> None:
    """Three reports and one acceptance, as the city goes on between two looks at the map."""
    officer = Actor("bench-officer", frozenset({"grid_officer"}), street_code="440604012")
    with psycopg.connect(url_of(db)) as conn:
        for _ in range(3):
            submit_report(conn, actor=officer, policy=Policy(), category_code="0102",
                          lon=113.10 + rng.uniform(0, 0.03), lat=23.01 + rng.uniform(0, 0.02), description="bench")
        row = conn.execute("SELECT id, department_code FROM event_case WHERE status = 'dispatched' "
                           "AND department_code IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        if row:
            act(conn, case_id=row[0], action="accept", policy=Policy(),
                actor=Actor("bench-handler", frozenset({"handler"}), department_code=row[1]))
        conn.commit()
        rollups.compact(conn)  # the worker's tick
        conn.commit()


def run_round(base: str, token: str, plan: list[tuple[str, str]], concurrency: int, month: str,
              panels: int, db: str = "") -> dict[str, list[float]]:
    """Every view once per client (each client its own order), plus the panel and the evaluation."""
    work = plan + [("dashboard panel", "panel")] * panels + \
        [("evaluation", f"/api/evaluation?by=department&period={month}")] * panels
    times: dict[str, list[float]] = {}
    headers = {"Authorization": f"Bearer {token}"}

    def client_run(seed: int) -> list[tuple[str, float]]:
        mine = work[:]
        random.Random(seed).shuffle(mine)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            client.get(plan[0][1])  # warm this connection
            return [timed(client, label, path, month) for label, path in mine]

    with ThreadPoolExecutor(concurrency) as pool:
        for result in pool.map(client_run, range(concurrency)):
            for label, seconds in result:
                if seconds is None:
                    REFUSED[(db, concurrency, label)] = REFUSED.get((db, concurrency, label), 0) + 1
                    continue
                times.setdefault(label, []).append(seconds)
                times.setdefault("all map views" if label.startswith(("z", "grid")) else "_", []).append(seconds)
    times.pop("_", None)
    return times


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))] * 1000


def table(results: dict, pairs: int) -> str:
    lines = ["| view | c | p50 100k ms | p95 100k ms | p50 1M ms | p95 1M ms "
             "| 1M/100k p95 (median of pairs, min–max) |",
             "|---|---|---|---|---|---|---|"]
    for c in sorted({c for (_, c) in results}):
        labels = sorted({label for (db, cc), rounds in results.items() if cc == c for r in rounds for label in r},
                        key=order)
        for label in labels:
            small = [r[label] for r in results[("small", c)]]
            large = [r[label] for r in results[("large", c)]]
            ratios = [p(b, .95) / p(a, .95) for a, b in zip(small, large)]
            flat_s, flat_l = sum(small, []), sum(large, [])
            lines.append(f"| {label} | {c} | {p(flat_s, .5):.1f} | {p(flat_s, .95):.1f} | {p(flat_l, .5):.1f} | "
                         f"{p(flat_l, .95):.1f} | {statistics.median(ratios):.2f} "
                         f"({min(ratios):.2f}–{max(ratios):.2f}) |")
    return "\n".join(lines)


def order(label: str) -> tuple:
    return (label == "all map views", not label.startswith("z"), label)


def plans(db: str) -> str:
    """The generic plans of the rollup reads at 1M, shortened to their scans."""
    out = []
    with psycopg.connect(url_of(db)) as conn:
        for zoom, period in ((11, None), (14, None), (16, None), (12, 7)):
            since = MapFilter(period=period).since(TZ)
            params = {"west": 112.95, "south": 22.9, "east": 113.2, "north": 23.1, "major": None,
                      "f_department": None, "f_street": None, "since": since, **FULL}
            query, args = rollups.cells_query(params=params, level=rollups.level_for(zoom), zoom=zoom, dim="a",
                                              val="", since_day=since.date() if since else None)
            out.append(f"map cells, zoom {zoom}, period {period}:")
            out += ["    " + line.strip() for line in rollups.generic_plan(conn, query, args) if "Scan" in line]
            conn.rollback()
        for scope in (FULL, {**FULL, "department": "S-012-HWS"}):
            parts = " ".join(SCOPE_PARTS[k] for k, v in scope.items() if v is not None)
            out.append(f"dashboard most overdue, scope {scope}:")
            plan = rollups.generic_plan(conn, TOP_OVERDUE.format(scope=parts), {"limit": 10, **scope})
            out += ["    " + line.strip() for line in plan if "Scan" in line or "Limit" in line]
            conn.rollback()
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", default="bench_views_100k")
    parser.add_argument("--large", default="bench_views_1m")
    parser.add_argument("--setup", action="store_true", help="create the two databases if they are missing")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer boxes and panels, one pair, c=1 only")
    args = parser.parse_args(argv)
    if args.setup:
        setup(args.small, 100_000)
        setup(args.large, 1_000_000)
    dbs = {"small": args.small, "large": args.large}
    stack = contextlib.ExitStack()
    servers = {k: serve(db) for k, db in dbs.items()}
    tokens = {k: leader_token(db) for k, db in dbs.items()}
    plan = views(args.small, args.quick)
    month = datetime.now(TZ).strftime("%Y-%m")
    pairs, levels, panels = (1, (1,), 2) if args.quick else (max(3, args.pairs), (1, 8), 5)
    rng = random.Random(3)
    results: dict = {}
    try:
        for _, child in servers.values():
            stack.enter_context(child)
        for c in levels:
            for k in dbs:  # warm both
                run_round(servers[k][0], tokens[k], plan, 1, month, 1)
            for _ in range(pairs):
                for k in ("small", "large"):  # A B A B
                    change_cases(dbs[k], rng)
                    results.setdefault((k, c), []).append(run_round(servers[k][0], tokens[k], plan, c, month,
                                                                    panels, dbs[k]))
    finally:
        stack.close()
    print(f"## Map views and dashboard: {args.small} (A) against {args.large} (B), {pairs} pairs\n")
    print(table(results, pairs))
    if REFUSED:  # not timed: the server's gate refused them as too busy (503), as it is built to
        print("\nRefused with 503 by the server's request gate (not in the times above): " +
              "; ".join(f"{db} c={c} {label}: {n}" for (db, c, label), n in sorted(REFUSED.items())))
    print("\nGeneric plans checked (plan_cache_mode = force_generic_plan), scans only:\n")
    print("```\n" + plans(args.large) + "\n```")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
