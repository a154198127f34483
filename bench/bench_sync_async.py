"""Sync psycopg in the thread pool vs async psycopg on the event loop, for the platform's typical request (token
lookup + case read), each served by uvicorn with uvloop and httptools, driven by wrk at c=16 and c=64, paired
A B A B. The answer decides whether routes that wait on PostgreSQL should leave the thread pool.

Usage: .venv/bin/python bench/bench_sync_async.py [--seconds 5] [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys

import httpx

from benchdb import ROOT, drop_city, free_port, inside_points, make_city, serving
from citygrid.procs import answers, running


def wrk(url: str, token: str, c: int, seconds: int) -> float:
    """Requests per second that wrk measured (non-2xx answers are not counted)."""
    out = subprocess.run(["wrk", "-t2", f"-c{c}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        raise RuntimeError(f"{bad.group(1)} non-2xx answers from {url}")
    return rps


def serve(url: str, factory: str):
    """One of the two apps under uvicorn on a free port (a context manager yielding the child process)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}
    return port, running([sys.executable, "-m", "uvicorn", f"sync_async_app:{factory}", "--factory", "--port",
                          str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                          "--log-level", "warning"], env=env, cwd=ROOT / "bench",
                         ready=answers(f"http://127.0.0.1:{port}/docs"))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    seconds, rounds = (2, 1) if args.quick else (args.seconds, args.rounds)
    url, tokens = make_city("bench_sync_async")
    results: dict = {}
    try:
        x, y = inside_points(url, 1, street="440604012")[0]
        with serving(url) as base:  # case 1, filed through the platform
            httpx.post(f"{base}/api/reports", headers={"Authorization": f"Bearer {tokens['officer']}"},
                       json={"category": "0102", "lon": x, "lat": y, "description": "case 1"})
        with contextlib.ExitStack() as stack:
            ports = {}
            for name in ("sync_app", "async_app"):
                ports[name], child = serve(url, name)
                stack.enter_context(child)
            for c in (16, 64):
                for _ in range(rounds):
                    for name, port in ports.items():
                        results.setdefault((c, name), []).append(
                            wrk(f"http://127.0.0.1:{port}/case/1", tokens["leader"], c, seconds))
    finally:
        drop_city(url)
    print("\n### Sync psycopg (thread pool) vs async psycopg (event loop): token lookup + case read, req/s\n")
    print("| concurrency | sync | async | async / sync per pair: median (min–max) |")
    print("|---|---|---|---|")
    for c in (16, 64):
        s, a = results[(c, "sync_app")], results[(c, "async_app")]
        ratios = [ai / si for si, ai in zip(s, a)]
        print(f"| {c} | {statistics.median(s):.0f} | {statistics.median(a):.0f} | "
              f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |")
    return results


if __name__ == "__main__":
    main()
