"""Intake throughput: POST /api/reports with a bearer token, driven by wrk at fixed concurrency, against the platform
served by a real uvicorn process, versus a minimal FastAPI app with one prepared INSERT on the same database
(bench/minimal_insert_app.py, a pool of the same size, the same uvicorn flags).

Each report is a grid officer's, at a random point of the officer's own street (four streets, four officers, 4,000
points each), category 0102 (暴露垃圾, duplicate radius 30 m): registered, routed with the stored decision and
dispatched with its working-hours deadline, unless a likely duplicate lies within 30 m (then registered for a
dispatcher). Both apps' tables are emptied before every run, so each run starts alike and duplicates stay rare
(the share is printed). The runs alternate platform, minimal, platform, minimal… (--pairs pairs per concurrency);
the ratio of each pair (platform req/s ÷ minimal req/s) is reported as the median with min–max.

Targets (issue 10): ≥ 0.5× at c=16 and c=64, p99 ≤ 100 ms at c=64, 0 errors (non-2xx and socket errors).

Usage: .venv/bin/python bench/bench_intake_wrk.py [--duration 10] [--pairs 3] [--pool 16] [--quick] [--keep]
(needs wrk: installed with apt-get when missing and run as root). Uses its own database bench_intake, dropped at
the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg

from benchdb import ROOT, drop_city, free_port, inside_points, machine, make_city
from citygrid.procs import listens, running
from dispatch.accounts import add_user, issue_token

STREETS = {"440604012": "祖庙", "440604010": "石湾", "440604011": "张槎", "440604100": "南庄"}
CATEGORY = "0102"  # duplicate radius 30 m
RESET = """
TRUNCATE event_case, report, case_history, routing_decision, outbox, inbox_message, idempotency_key, attachment,
         bench_minimal_report CASCADE
"""
LUA = """
local tokens = {%(tokens)s}
local points = {%(points)s}
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) math.randomseed(os.time() * 100 + id) end
function request()
  local p = points[math.random(#points)]
  local body = string.format('{"category":"%(category)s","lon":%%.6f,"lat":%%.6f,"description":"wrk"}', p[2], p[3])
  return wrk.format("POST", "/api/reports", {["Content-Type"] = "application/json",
                                             ["Authorization"] = "Bearer " .. tokens[p[1]]}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"socket":%%d,' ..
    '"status":%%d}\\n', summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: apt-get install -y wrk (as root)")
    if subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk")


def uvicorn_flags() -> list[str]:
    """uvloop + httptools when installed (both apps get the same flags), no access log."""
    flags = ["--no-access-log"]
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
        flags += ["--loop", "uvloop", "--http", "httptools"]
    except ImportError:
        pass
    return flags


def city(n_points: int) -> tuple[str, list[str], list[tuple[int, float, float]]]:
    """The bench database with one officer per street; returns its URL, their tokens and (officer, lon, lat)."""
    url, _ = make_city("bench_intake")
    tokens, points = [], []
    with psycopg.connect(url) as conn:
        for i, street in enumerate(STREETS, start=1):
            name = f"officer-{street}"
            add_user(conn, username=name, roles=["grid_officer"], password=f"{name}-password", street_code=street)
            tokens.append(issue_token(conn, username=name, label="wrk"))
            points += [(i, x, y) for x, y in inside_points(url, n_points, street=street, seed=i)]
        conn.commit()
    return url, tokens, points


@contextmanager
def served(app: str, url: str, flags: list[str], pool: int, app_dir: Path):
    """uvicorn APP --factory on a free loopback port; yields the port once it listens (after its lifespan)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CITYGRID_DB_CONNECTIONS": str(pool), "CITYGRID_ENV": "development",
           "CITYGRID_MEDIA_ROOT": tempfile.mkdtemp(prefix="bench_intake_media_")}
    with running([sys.executable, "-m", "uvicorn", app, "--factory", "--app-dir", str(app_dir), "--host",
                  "127.0.0.1", "--port", str(port), *flags], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL, ready=listens(port)):
        yield port


def run_wrk(wrk: str, port: int, script: Path, c: int, seconds: float) -> dict:
    """One wrk run; its totals, latencies in ms and errors."""
    out = subprocess.run([wrk, "-t2", f"-c{c}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
                          f"http://127.0.0.1:{port}/api/reports"], capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK "))
    r = json.loads(line[4:])
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p50": r["p50_us"] / 1000, "p99": r["p99_us"] / 1000,
            "non2xx": r["status"], "socket": r["socket"], "requests": r["requests"]}


def reset(url: str) -> None:
    """Empty both apps' tables (each run starts alike) and checkpoint (no checkpoint lands inside a run)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RESET)
        conn.execute("CHECKPOINT")


def outcomes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM event_case GROUP BY status").fetchall())


def measure(args, wrk, url, script, flags) -> tuple[list[dict], dict]:
    """Alternate platform and minimal at each concurrency; every run's numbers and the platform's outcomes."""
    rows, mix = [], {}
    with served("citygrid.app:build_app", url, flags, args.pool, ROOT) as platform, \
            served("minimal_insert_app:build_app", url, flags, args.pool, ROOT / "bench") as minimal:
        for c in args.concurrency:
            for port in (platform, minimal):  # warm: prepared statements, the platform's reference cache
                run_wrk(wrk, port, script, c, args.warmup)
            for pair in range(1, args.pairs + 1):
                for name, port in (("platform", platform), ("minimal", minimal)):
                    reset(url)
                    result = run_wrk(wrk, port, script, c, args.duration)
                    rows.append({"c": c, "pair": pair, "app": name, **result})
                    if name == "platform":
                        for status, n in outcomes(url).items():
                            mix[status] = mix.get(status, 0) + n
    return rows, mix


def summary(rows: list[dict], c: int) -> dict:
    """The median of the per-pair ratios at one concurrency, with min–max, and the platform's p99."""
    at = [r for r in rows if r["c"] == c]
    pairs = sorted({r["pair"] for r in at})
    ratios = [next(r["rps"] for r in at if r["pair"] == p and r["app"] == "platform") /
              next(r["rps"] for r in at if r["pair"] == p and r["app"] == "minimal") for p in pairs]
    platform = [r for r in at if r["app"] == "platform"]
    return {"c": c, "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "p99": statistics.median(r["p99"] for r in platform),
            "errors": sum(r["non2xx"] + r["socket"] for r in at)}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per app and concurrency")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--pool", type=int, default=16, help="database connections per app (CITYGRID_DB_CONNECTIONS)")
    ap.add_argument("--quick", action="store_true", help="3 s runs, 1 s warm-up (a smoke run; still 3 pairs)")
    ap.add_argument("--keep", action="store_true", help="keep the bench_intake database")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3, 1
    wrk, flags = ensure_wrk(), uvicorn_flags()
    url, tokens, points = city(4000)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "report.lua"
            script.write_text(LUA % {"tokens": ", ".join(f'"{t}"' for t in tokens), "category": CATEGORY,
                                     "points": ", ".join(f"{{{i}, {x:.6f}, {y:.6f}}}" for i, x, y in points)})
            rows, mix = measure(args, wrk, url, script, flags)
    finally:
        if not args.keep:
            drop_city(url)
    report(rows, mix, args, flags)
    return rows


def report(rows: list[dict], mix: dict, args, flags: list[str]) -> None:
    print(f"\n## POST /api/reports under wrk ({machine()})\n")
    print(f"uvicorn flags for both apps: {' '.join(flags)}; {args.pool} database connections each; "
          f"{args.duration:g} s per run, {args.pairs} pairs per concurrency, wrk -t2\n")
    print("| c | pair | app | req/s | p50 ms | p99 ms | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['c']} | {r['pair']} | {r['app']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
              f"{r['non2xx']} | {r['socket']} |")
    print("\n| c | platform/minimal (median of pairs) | min–max | platform p99 ms (median) | errors | target |")
    print("|---|---|---|---|---|---|")
    for c in args.concurrency:
        s = summary(rows, c)
        target = "≥ 0.5×" + (", p99 ≤ 100 ms" if c == 64 else "") + ", 0 errors"
        print(f"| {c} | {s['ratio']:.2f}× | {s['min']:.2f}–{s['max']:.2f} | {s['p99']:.1f} | {s['errors']} | "
              f"{target} |")
    total = sum(mix.values()) or 1
    print("\nplatform outcomes over all measured runs: " +
          ", ".join(f"{k} {v} ({100 * v / total:.1f} %)" for k, v in sorted(mix.items())))


if __name__ == "__main__":
    main()
