"""Database restart under a retrying load: a private PostgreSQL cluster that this benchmark starts itself (never
the machine's shared server) is stopped and started again while clients keep filing reports, retrying with the
same Idempotency-Key on every failure, as phones and hotline systems do.

Targets (issue 10): the first success <= 5 s after the database is back; 0 acknowledged reports lost; no answer
>= 500 other than 503 (each 503 with Retry-After). While the database is down, how fast a 503 comes is printed.

Usage: .venv/bin/python bench/bench_restart.py [--clients 16] [--down 3] [--rounds 2] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import psycopg

from benchdb import inside_points, make_city, pct, serving

PGDATA = Path(os.environ.get("CITYGRID_BENCH_PGDATA", "/tmp/citygrid-bench-restart-pg"))
PORT = int(os.environ.get("CITYGRID_BENCH_PGPORT", "54339"))


def _bin() -> Path:
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def pg_ctl(*args: str) -> None:
    """Run pg_ctl on the private cluster (as the postgres user when we are root)."""
    subprocess.run([*_as_postgres(), str(_bin() / "pg_ctl"), "-D", str(PGDATA), *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_cluster() -> str:
    """A fresh private cluster on PORT; its server URL."""
    stop_cluster()
    shutil.rmtree(PGDATA, ignore_errors=True)
    PGDATA.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(PGDATA, "postgres")
    subprocess.run([*_as_postgres(), str(_bin() / "initdb"), "-D", str(PGDATA), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL)
    up()
    return f"postgresql://postgres@127.0.0.1:{PORT}/postgres"


def up() -> None:
    pg_ctl("-w", "-l", str(PGDATA / "server.log"), "-o", f"-p {PORT} -k {PGDATA} -c listen_addresses=127.0.0.1",
           "start")


def stop_cluster() -> None:
    if (PGDATA / "postmaster.pid").exists():
        pg_ctl("-m", "fast", "-w", "stop")


async def client_loop(client, token, points, stop_at, acked, log, offset, label):
    """File reports one after another; each is retried with its own key until acknowledged."""
    i = offset
    while time.monotonic() < stop_at:
        key, (lon, lat) = uuid.uuid4().hex, points[i % len(points)]
        i += 1
        while time.monotonic() < stop_at + 30:
            started = time.monotonic()
            try:
                r = await client.post("/api/reports", json={"category": "0102", "lon": lon, "lat": lat,
                                                            "description": label},
                                      headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
                code, wait = r.status_code, float(r.headers.get("retry-after", 0.2) or 0.2)
            except httpx.HTTPError:
                code, wait = 0, 0.2
            log.append((started, time.monotonic() - started, code))
            if code == 201:
                acked[key] = r.json()["case_id"]
                break
            await asyncio.sleep(min(wait, 1.0) * 0.5)


async def drill(base, token, points, clients, down_s, label):
    """Load for a while, stop the database for down_s seconds, start it, load on; the log and the times."""
    acked, log, marks = {}, [], {}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        stop_at = time.monotonic() + 3 + down_s + 8
        tasks = [asyncio.create_task(client_loop(client, token, points, stop_at, acked, log, k * 50, label))
                 for k in range(clients)]
        await asyncio.sleep(3)
        marks["down"] = time.monotonic()
        await asyncio.to_thread(stop_cluster)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(up)
        marks["back"] = time.monotonic()
        await asyncio.gather(*tasks)
    return acked, log, marks


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--down", type=float, default=3.0, help="seconds the database stays down")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="8 clients, 1 round")
    args = ap.parse_args(argv)
    clients, rounds = (8, 1) if args.quick else (args.clients, args.rounds)
    server = start_cluster()
    rows = []
    try:
        url, tokens = make_city("bench_restart", server)
        points = inside_points(url, 500, street="440604012")
        with serving(url) as base:
            for r in range(rounds):
                label = f"restart drill {r + 1}"
                acked, log, marks = asyncio.run(drill(base, tokens["officer"], points, clients, args.down, label))
                with psycopg.connect(url) as conn:
                    found = conn.execute("SELECT count(*) FROM event_case WHERE id = ANY(%s)",
                                         (list(acked.values()),)).fetchone()[0]
                    filed = conn.execute("SELECT count(*) FROM event_case WHERE description = %s",
                                         (label,)).fetchone()[0]
                first_ok = min((t + d for t, d, c in log if c < 400 and t + d >= marks["back"]), default=None)
                while_down = [d for t, d, c in log if marks["down"] <= t < marks["back"] and c == 503]
                rows.append({"round": r + 1, "acked": len(acked), "found": found, "filed": filed,
                             "first_ok": None if first_ok is None else first_ok - marks["back"],
                             "bad": sum(1 for _, _, c in log if c >= 500 and c != 503),
                             "unanswered": sum(1 for _, _, c in log if c == 0),
                             "n503": sum(1 for _, _, c in log if c == 503),
                             "p95_503_down": pct(while_down, 95)})
    finally:
        stop_cluster()
        shutil.rmtree(PGDATA, ignore_errors=True)
    print(f"\n### Database restart under {clients} retrying clients (database down {args.down:g} s)\n")
    print("| round | acknowledged | of those in the database | cases filed this round (duplicates: filed − acknowledged) | "
          "first success after the database is back | 5xx other than 503 | no answer | 503s | "
          "p95 time to a 503 while down |")
    print("|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        first = "none" if x["first_ok"] is None else f"{x['first_ok']:.2f} s"
        print(f"| {x['round']} | {x['acked']} | {x['found']} | {x['filed']} | {first} | {x['bad']} | "
              f"{x['unanswered']} | {x['n503']} | {x['p95_503_down'] * 1000:.0f} ms |")
    ok = all(x["found"] == x["acked"] and x["first_ok"] is not None and x["first_ok"] <= 5 and x["bad"] == 0
             for x in rows)
    print(f"\ntarget (first success <= 5 s after the database is back, 0 acknowledged lost, no 500): "
          f"{'met' if ok else 'NOT met'}")
    return rows


if __name__ == "__main__":
    main()
