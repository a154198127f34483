"""Burst: 256 simultaneous authenticated requests (reports, case reads, map views, queues) against `citygrid serve`.

Targets (issue 10): 0 answers >= 500 other than 503, every request answered within 10 s, and the next request
after the burst answers normally. No reference: the target is absolute. Each burst is run `--rounds` times.

Usage: .venv/bin/python bench/bench_burst.py [--n 256] [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

import httpx

from benchdb import drop_city, inside_points, make_city, pct, serving


async def burst(base: str, tokens: dict, points: list, n: int) -> tuple[list[int], list[float]]:
    """n requests sent at once; their status codes and latencies (s)."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def one(i: int):
            started = time.perf_counter()
            kind = i % 4
            try:
                if kind == 0:
                    lon, lat = points[i % len(points)]
                    r = await client.post("/api/reports", headers=_auth(tokens["officer"]), json={
                        "category": "0102", "lon": lon, "lat": lat, "description": f"burst {i}"})
                elif kind == 1:
                    r = await client.get("/api/cases/1", headers=_auth(tokens["leader"]))
                elif kind == 2:
                    r = await client.get("/api/map/cases", headers=_auth(tokens["leader"]), params={
                        "west": 112.95, "south": 22.9, "east": 113.2, "north": 23.1, "zoom": 13})
                else:
                    r = await client.get("/api/cases", params={"queue": "department"},
                                         headers=_auth(tokens["hws"]))
                code = r.status_code
            except httpx.HTTPError:
                code = 0  # no answer at all
            return code, time.perf_counter() - started
        done = await asyncio.gather(*(one(i) for i in range(n)))
    return [c for c, _ in done], [t for _, t in done]


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="64 requests, 1 round")
    args = ap.parse_args(argv)
    n, rounds = (64, 1) if args.quick else (args.n, args.rounds)
    url, tokens = make_city("bench_burst")
    points = inside_points(url, n, street="440604012")
    rows = []
    try:
        with serving(url) as base:
            httpx.post(f"{base}/api/reports", headers=_auth(tokens["officer"]), json={
                "category": "0102", "lon": points[0][0], "lat": points[0][1], "description": "case 1"})
            for r in range(rounds):
                codes, times = asyncio.run(burst(base, tokens, points, n))
                after = httpx.get(f"{base}/api/cases/1", headers=_auth(tokens["leader"])).status_code
                counts = Counter(codes)
                rows.append({"round": r + 1, "n": n, "codes": dict(sorted(counts.items())),
                             "bad": sum(v for c, v in counts.items() if c >= 500 and c != 503 or c == 0),
                             "p50": pct(times, 50), "p99": pct(times, 99), "max": max(times), "after": after})
    finally:
        drop_city(url)
    print(f"\n### Burst: {n} simultaneous requests against citygrid serve (1 process, default pool)\n")
    print("| round | answers by status | 5xx other than 503, or none | p50 | p99 | slowest | next request |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['round']} | {row['codes']} | {row['bad']} | {row['p50'] * 1000:.0f} ms | "
              f"{row['p99'] * 1000:.0f} ms | {row['max']:.2f} s | {row['after']} |")
    ok = all(r["bad"] == 0 and r["max"] <= 10 and r["after"] == 200 for r in rows)
    print(f"\ntarget (0 bad answers, all within 10 s, next request 200): {'met' if ok else 'NOT met'}")
    return rows


if __name__ == "__main__":
    main()
