"""Database restart drill: a private PostgreSQL cluster (tests/drills/cluster.py, never the machine's shared
server) is stopped (a fast shutdown, which cuts every session) and started again while clients keep filing
reports with Idempotency-Keys through `citygrid serve` (2 workers, as production runs it), retrying as phones do
(tests/drills/retrying.py), several rounds in a row. While the database is down every answer is a 503 with
Retry-After, and comes at once; after it is back the first success comes within 5 s; nothing acknowledged is
lost and nothing is filed twice.

Times of each round, in seconds: "after back" counts from the moment `pg_ctl start -w` returns (the database
accepts connections again); the first success is the end of the first 2xx answer to a request sent after that.
"While down" means requests sent between the end of `pg_ctl stop` and the start of `pg_ctl start`.
bench/bench_restart.py prints the same rounds as a benchmark; tests/test_drill_restart.py runs one round in the
normal suite and asserts the counts only.

Usage: .venv/bin/python -m tests.drills.restart [--quick] [--rounds 3] [--clients 16] [--down 3]
"""
from __future__ import annotations

import asyncio
import sys
import time
import uuid

from tests.drills.cluster import Cluster, private_cluster
from tests.drills.common import ZUMIAO, city, command, inside_points, pct, result, serving
from tests.drills.retrying import INTEGRITY, Load, answered, kept, seconds, under_load, worst

TITLE = "database restart (private cluster) under retrying clients with idempotency keys"
WORKERS = 2
LOAD_SECONDS = 3     # of load before each stop, and after the database is back
LIMIT_SECONDS = 5    # the target: first success within this long of the database being back


async def _rounds(cluster: Cluster, rounds: int, down: float) -> list[dict]:
    """Each round: load, stop the database, wait `down` seconds, start it, load; the moments of each round."""
    marks = []
    for _ in range(rounds):
        await asyncio.sleep(LOAD_SECONDS)
        stopping = time.monotonic()
        await asyncio.to_thread(cluster.down)
        stopped = time.monotonic()
        await asyncio.sleep(down)
        starting = time.monotonic()
        await asyncio.to_thread(cluster.up)
        marks.append({"stopping": stopping, "stopped": stopped, "starting": starting, "back": time.monotonic()})
        await asyncio.sleep(LOAD_SECONDS)
    return marks


def restarts(url: str, token: str, cluster: Cluster, *, rounds: int, clients: int,
             down: float) -> tuple[Load, list[dict]]:
    """`citygrid serve` on `url` (a database of `cluster`), and `rounds` restarts of the cluster under the clients'
    load; what the clients saw and the moments of each round."""
    points = inside_points(url, 500, street=ZUMIAO)
    label = f"restart drill {uuid.uuid4().hex[:8]}"
    with serving(url, "--workers", str(WORKERS)) as base:
        return asyncio.run(under_load(base, token, points, clients=clients, label=label,
                                      disrupt=lambda: _rounds(cluster, rounds, down)))


def round_figures(load: Load, mark: dict) -> dict:
    """One round: the first success after the database is back, and the answers to requests sent while down."""
    down = [a for a in load.answers if mark["stopped"] <= a.started < mark["starting"]]
    took = [a.took for a in down if a.code == 503]
    return {"first_ok": load.first_success(mark["back"]), "down": len(down),
            "not_503": sum(1 for a in down if a.code != 503), "p95_503": pct(took, 95),
            "max_503": max(took, default=float("nan"))}


def drill(url: str, officer_token: str, cluster: Cluster, *, rounds: int = 3, clients: int = 16,
          down: float = 3) -> dict:
    """The drill on an existing Chancheng database of `cluster` (with a Zumiao officer's token)."""
    load, marks = restarts(url, officer_token, cluster, rounds=rounds, clients=clients, down=down)
    per_round = [round_figures(load, m) for m in marks]
    first = [r["first_ok"] for r in per_round]
    figures = {"rounds (stop, start)": len(marks), "seconds down per round": down,
               **kept(url, load), **answered(load),
               "requests sent while down": sum(r["down"] for r in per_round),
               "answers while down other than 503": sum(r["not_503"] for r in per_round),
               "p95 time to a 503 while down (s)": max(r["p95_503"] for r in per_round),
               "slowest 503 while down (s)": max(r["max_503"] for r in per_round),
               "first success after back, worst round (s)": worst(first),
               "first success after back, per round (s)": seconds(first)}
    targets = {"rounds (stop, start)": f"= {rounds}", "reports acknowledged (2xx)": ">= 100", **INTEGRITY,
               "requests sent while down": ">= 1", "answers while down other than 503": "= 0",
               "first success after back, worst round (s)": f"<= {LIMIT_SECONDS} s"}
    return result(figures, targets)


def run(quick: bool = False, rounds: int = 3, clients: int = 16, down: float = 3.0) -> dict:
    """The drill on a private cluster of its own (quick: one round, 8 clients)."""
    with private_cluster() as cluster, city("restart", cluster.url, cast=("officer",)) as (url, tokens):
        return drill(url, tokens["officer"], cluster, rounds=1 if quick else rounds,
                     clients=8 if quick else clients, down=down)


if __name__ == "__main__":
    sys.exit(command(TITLE, run))
