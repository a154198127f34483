"""Burst: 256 simultaneous authenticated requests (reports, case reads, map views, queues) against `citygrid serve`.

The bursts are the burst drill's (tests/drills/burst.py); this prints their latencies per round as a benchmark.
Targets (issue 10): 0 answers >= 500 other than 503, every request answered within 10 s, and the next request
after the burst answers normally. No reference: the target is absolute. Each burst is run `--rounds` times.

Usage: .venv/bin/python bench/bench_burst.py [--n 256] [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse

from benchdb import drop_city, make_city, pct

from tests.drills.burst import SLOWEST_SECONDS, bursts


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="64 requests, 1 round")
    args = ap.parse_args(argv)
    n, rounds = (64, 1) if args.quick else (args.n, args.rounds)
    url, tokens = make_city("bench_burst")
    try:
        rows = bursts(url, tokens, n=n, rounds=rounds)
    finally:
        drop_city(url)
    print(f"\n### Burst: {n} simultaneous requests against citygrid serve (1 process, default pool)\n")
    print("| round | answers by status | 5xx other than 503, or none | p50 | p99 | slowest | next request |")
    print("|---|---|---|---|---|---|---|")
    for r, row in enumerate(rows, 1):
        bad = sum(v for c, v in row["codes"].items() if c >= 500 and c != 503 or c == 0)
        row.update(bad=bad, slowest=max(row["times"]))
        print(f"| {r} | {dict(sorted(row['codes'].items()))} | {bad} | {pct(row['times'], 50) * 1000:.0f} ms | "
              f"{pct(row['times'], 99) * 1000:.0f} ms | {row['slowest']:.2f} s | {row['after']} |")
    ok = all(r["bad"] == 0 and r["slowest"] <= SLOWEST_SECONDS and r["after"] == 200 for r in rows)
    print(f"\ntarget (0 bad answers, all within {SLOWEST_SECONDS} s, next request 200): {'met' if ok else 'NOT met'}")
    return rows


if __name__ == "__main__":
    main()
