"""Live feed latency: a report's answer (its commit) → the case's event on an open server-sent-event stream,
idle and under a background report load of c=8, against the floor of PostgreSQL itself (a NOTIFY committed on
one connection → heard by LISTEN on another), alternating floor and platform rounds.

Target (issue 10): p95 <= 100 ms under load.

Usage: .venv/bin/python bench/bench_live.py [--probes 40] [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx
import psycopg

from benchdb import drop_city, inside_points, make_city, pct, serving


async def floor(url: str, n: int) -> list[float]:
    """NOTIFY (committed) → LISTEN, n times: the database's own latency."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listener, \
            await psycopg.AsyncConnection.connect(url, autocommit=True) as sender:
        await listener.execute("LISTEN bench_floor")
        heard: dict[str, float] = {}

        async def listen():
            async for note in listener.notifies():
                heard[note.payload] = time.perf_counter()

        task = asyncio.create_task(listen())
        await asyncio.sleep(0.2)
        out = []
        for i in range(n):
            await sender.execute("SELECT pg_notify('bench_floor', %s)", (str(i),))
            sent = time.perf_counter()
            for _ in range(1000):
                if str(i) in heard:
                    break
                await asyncio.sleep(0.0005)
            out.append(heard.get(str(i), float("inf")) - sent)
            await asyncio.sleep(0.02)
        task.cancel()
    return out


async def platform(base: str, tokens: dict, points: list, n: int, load: int) -> list[float]:
    """Report answer → its event on the leader's open stream, n probes, with `load` background reporters."""
    heard: dict[int, float] = {}
    opened = asyncio.Event()
    limits = httpx.Limits(max_connections=load + 4)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        async def listen():
            async with client.stream("GET", "/api/events", headers=_auth(tokens["leader"])) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("retry:"):
                        opened.set()
                    if line.startswith("data: "):
                        heard.setdefault(json.loads(line[6:])["id"], time.perf_counter())

        async def background(k: int, stop: asyncio.Event):
            i = k * 1000
            while not stop.is_set():
                await _report(client, tokens, points[i % len(points)], "load")
                i += 1

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(opened.wait(), 30)
        stop = asyncio.Event()
        loaders = [asyncio.create_task(background(k, stop)) for k in range(load)]
        await asyncio.sleep(0.5 if load else 0)
        out = []
        for i in range(n):
            case_id, answered = await _report(client, tokens, points[(i * 7) % len(points)], "probe")
            for _ in range(2000):
                if case_id in heard:
                    break
                await asyncio.sleep(0.001)
            out.append(heard.get(case_id, float("inf")) - answered)
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*loaders)
        listener.cancel()
    return out


async def _report(client, tokens, point, text) -> tuple[int, float]:
    r = await client.post("/api/reports", headers=_auth(tokens["officer"]),
                          json={"category": "0102", "lon": point[0], "lat": point[1], "description": text})
    return r.json().get("case_id", -1), time.perf_counter()


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10 probes, 1 round")
    args = ap.parse_args(argv)
    probes, rounds = (10, 1) if args.quick else (args.probes, args.rounds)
    url, tokens = make_city("bench_live")
    points = inside_points(url, 2000, street="440604012")
    result = {"floor": [], "idle": [], "load": [], "ratios": []}
    try:
        with serving(url) as base:
            for _ in range(rounds):  # A B A B: the floor, then the platform idle and under load
                f = asyncio.run(floor(url, probes))
                idle = asyncio.run(platform(base, tokens, points, probes, 0))
                loaded = asyncio.run(platform(base, tokens, points, probes, 8))
                result["floor"] += f
                result["idle"] += idle
                result["load"] += loaded
                result["ratios"].append(pct(loaded, 95) / max(pct(f, 95), 1e-6))
    finally:
        drop_city(url)
    print("\n### Live feed: report answer → event on an open stream (ms)\n")
    print("| | p50 | p95 | max |")
    print("|---|---|---|---|")
    for name, label in (("floor", "floor: NOTIFY → LISTEN"), ("idle", "platform, idle"),
                        ("load", "platform, under c=8 report load")):
        v = [x * 1000 for x in result[name]]
        print(f"| {label} | {pct(v, 50):.1f} | {pct(v, 95):.1f} | {max(v):.1f} |")
    r = result["ratios"]
    print(f"\np95 under load / p95 floor, per round: median {statistics.median(r):.1f}× "
          f"(min {min(r):.1f}×, max {max(r):.1f}×)")
    print(f"target (p95 <= 100 ms under load): {'met' if pct(result['load'], 95) <= 0.1 else 'NOT met'}")
    return result


if __name__ == "__main__":
    main()
