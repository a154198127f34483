"""Burst drill: 256 authenticated requests at the same moment (reports, case reads, map views, department queues)
against `citygrid serve` (one process, the default pool), several rounds. Nothing answers >= 500 (not even a
503: the admission gate queues them on the event loop and the pool serves them all), every request is answered,
every acknowledged report is in the database, and the next request after each burst answers 200.

bench/bench_burst.py prints the same rounds as a benchmark (latencies per round); tests/test_burst.py runs one
burst of 64 on a pool of 4 in the normal suite and asserts the counts only.

Usage: .venv/bin/python -m tests.drills.burst [--quick] [--n 256] [--rounds 3]
"""
from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter

import httpx
import psycopg

from tests.drills.common import ZUMIAO, city, command, inside_points, pct, result, serving
from tests.people import bearer

TITLE = "256 simultaneous mixed authenticated requests against citygrid serve"
SLOWEST_SECONDS = 10  # the target: every request of a burst answered within this long


async def burst(base: str, tokens: dict, points: list, n: int) -> tuple[list[int], list[float]]:
    """n requests sent at once, a quarter each of reports, case reads, map views and queues; their status codes
    (0: no answer) and latencies (s)."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def one(i: int):
            started = time.perf_counter()
            kind = i % 4
            try:
                if kind == 0:
                    lon, lat = points[i % len(points)]
                    r = await client.post("/api/reports", headers=bearer(tokens["officer"]), json={
                        "category": "0102", "lon": lon, "lat": lat, "description": f"burst {i}"})
                elif kind == 1:
                    r = await client.get("/api/cases/1", headers=bearer(tokens["leader"]))
                elif kind == 2:
                    r = await client.get("/api/map/cases", headers=bearer(tokens["leader"]), params={
                        "west": 112.95, "south": 22.9, "east": 113.2, "north": 23.1, "zoom": 13})
                else:
                    r = await client.get("/api/cases", params={"queue": "department"},
                                         headers=bearer(tokens["hws"]))
                code = r.status_code
            except httpx.HTTPError:
                code = 0  # no answer at all
            return code, time.perf_counter() - started
        done = await asyncio.gather(*(one(i) for i in range(n)))
    return [c for c, _ in done], [t for _, t in done]


def bursts(url: str, tokens: dict, *, n: int, rounds: int, **settings: str) -> list[dict]:
    """`citygrid serve` on `url` (settings: CITYGRID_ values), case 1 filed, then `rounds` bursts of n; per round
    the answers by status, the latencies and the status of the next request."""
    points = inside_points(url, n, street=ZUMIAO)
    rows = []
    with serving(url, **settings) as base:
        httpx.post(f"{base}/api/reports", headers=bearer(tokens["officer"]), json={
            "category": "0102", "lon": points[0][0], "lat": points[0][1], "description": "case 1"}
        ).raise_for_status()
        for _ in range(rounds):
            codes, times = asyncio.run(burst(base, tokens, points, n))
            after = httpx.get(f"{base}/api/cases/1", headers=bearer(tokens["leader"])).status_code
            rows.append({"codes": Counter(codes), "times": times, "after": after})
    return rows


def drill(url: str, tokens: dict, *, n: int = 256, rounds: int = 3, **settings: str) -> dict:
    """The drill on an existing Chancheng database with the officer, leader and hws accounts' tokens."""
    rows = bursts(url, tokens, n=n, rounds=rounds, **settings)
    reports = len(range(0, n, 4)) * rounds  # every fourth request files one
    codes = sum((r["codes"] for r in rows), Counter())
    with psycopg.connect(url) as conn:
        filed = conn.execute("SELECT count(*) FROM event_case WHERE description LIKE 'burst %'").fetchone()[0]
    times = [t for r in rows for t in r["times"]]
    figures = {"requests": sum(codes.values()), "answers >= 500": sum(v for c, v in codes.items() if c >= 500),
               "of those 503 (busy: no slot within db_wait_seconds)": codes[503],
               "no answer": codes[0], "answers other than 200/201": sum(v for c, v in codes.items()
                                                                        if c not in (200, 201)),
               "reports acknowledged (201)": codes[201], "reports in the database": filed,
               "next request after a burst not 200": sum(1 for r in rows if r["after"] != 200),
               "p50 answer (s)": pct(times, 50), "p99 answer (s)": pct(times, 99),
               "slowest answer (s)": max(times)}
    targets = {"requests": f"= {n * rounds}", "answers >= 500": "= 0", "no answer": "= 0",
               "answers other than 200/201": "= 0", "reports acknowledged (201)": f"= {reports}",
               "reports in the database": f"= {reports}", "next request after a burst not 200": "= 0",
               "slowest answer (s)": f"<= {SLOWEST_SECONDS} s"}
    return result(figures, targets)


def run(quick: bool = False, n: int = 256, rounds: int = 3) -> dict:
    """The drill in its own database (quick: one burst of 64)."""
    with city("burst") as (url, tokens):
        return drill(url, tokens, n=64 if quick else n, rounds=1 if quick else rounds)


if __name__ == "__main__":
    sys.exit(command(TITLE, run))
