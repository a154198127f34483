"""Load N synthetic cases (default 100,000) with their real history into a citygrid database, for load tests.

Each case takes one path of `bench/case_paths.py` (report, register, dispatch, accept, handle, check, close, with
returns and re-dispatch, extensions approved or refused, failed checks and rework, rejections, merges and
reopenings at their rates); its history rows are the ones the live workflow writes for those steps, at
working-hours times (the office axis of `events/workclock_many.py`), with deadlines counted by the vectorised
working-time clock; the steps after the generation time are cut off, so recent cases are still open. The case's
columns (status, department, deadline, counters, handled and closing times, escalation level) are those the
steps leave; points are random inside the district, located and routed as the bulk import does, with one routing
decision per automatic dispatch attempt. Everything is computed per step *template* on numpy arrays and written
with one binary COPY per table per chunk of cases. The rows are marked `source` officer/12345/public with
`description = 'generated case'`; per-row triggers are skipped where the role may (bulk_repo.quiet).

Usage: DATABASE_URL=postgresql://…/citygrid .venv/bin/python bench/generate_cases.py [N]
(the database needs the demo data: run `bash scripts/demo.sh` once).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg

if __package__ in (None, ""):  # run as a script: make the `bench` folder importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.case_history import History  # noqa: E402
from bench.case_rows import case_columns, final_state, other_rows  # noqa: E402
from bench.case_paths import templates  # noqa: E402
from dispatch.exchange import bulk_import
from dispatch.exchange import bulk_repo  # noqa: E402
from dispatch.models import Policy  # noqa: E402
from dispatch.routing.choose import Facts  # noqa: E402
from events.workclock_many import _Axis  # noqa: E402  the office axis: the same clock as the deadlines
from gis.locator import locate_many  # noqa: E402

US = 1_000_000
BOX = (112.98, 22.93, 113.16, 23.08)  # around the district; about half of it is inside
CHUNK = 100_000


@dataclass
class World:
    """What every chunk is drawn from: reference data, the office axis, the paths and the generation time."""

    ref: bulk_import.Reference
    policy: Policy
    axis: _Axis
    now: int  # local wall-clock microseconds, like the axis
    paths: list
    shares: np.ndarray
    categories: np.ndarray
    weights: np.ndarray
    cache: dict = field(default_factory=dict)


@dataclass
class Counts:
    """Rows written per table."""

    cases: int = 0
    history: int = 0
    decisions: int = 0


def world(conn, policy: Policy, now: datetime) -> World:
    """Read the reference data once and lay out the office axis over the year before now (and after, for cuts)."""
    ref = bulk_import.reference(conn, "generated")
    local = now.astimezone(policy.tz).replace(tzinfo=None)
    axis = _Axis(ref.calendar, policy.hours, (local - timedelta(days=370)).date(), (local + timedelta(days=500)).date())
    paths = templates()
    public = np.array(sorted(c for c, cat in ref.categories.items() if cat.public), dtype=object)
    rank = np.arange(1, len(public) + 1)
    weights = np.random.default_rng(7).permutation(1 / rank)  # a few categories make most of the cases
    return World(ref, policy, axis, _local_us(local), paths, np.array([p.share for p in paths]), public,
                 weights / weights.sum())


def _local_us(local: datetime) -> int:
    return int(np.datetime64(local, "us").astype(np.int64))


def places(w: World, n: int, rng) -> dict:
    """n random points inside the district with their grid chain and zones."""
    lon, lat, grid = [], [], []
    while sum(map(len, lon)) < n:
        x, y = rng.uniform(BOX[0], BOX[2], n), rng.uniform(BOX[1], BOX[3], n)
        found = locate_many(w.ref.grid_codes, w.ref.grid_shapes, x, y)
        inside = np.array([g is not None for g in found])
        lon.append(x[inside]), lat.append(y[inside]), grid.append(np.asarray(found, dtype=object)[inside])
    lon, lat, grid = (np.concatenate(a)[:n] for a in (lon, lat, grid))
    community = np.array([w.ref.parents[g] for g in grid], dtype=object)
    street = np.array([w.ref.parents[c] for c in community], dtype=object)
    district = np.array([w.ref.parents[s] for s in street], dtype=object)
    zones = bulk_import.zones_of(lon, lat, np.arange(n), w.ref)
    return {"lon": lon, "lat": lat, "grid": grid, "community": community, "street": street, "district": district,
            "zones": zones}


def chunk(w: World, n: int, rng) -> tuple[dict, History]:
    """n cases: their places, categories, routing, path and steps (as arrays), before they get ids."""
    where = places(w, n, rng)
    category = rng.choice(w.categories, size=n, p=w.weights)
    facts = [Facts(c, s, m, g, tuple((layer, code) for layer, code, _ in z)) for c, s, m, g, z in
             zip(category, where["street"], where["community"], where["grid"], where["zones"])]
    decisions = np.empty(n, dtype=object)
    decisions[:] = bulk_import.decide_many(w.ref, facts, w.cache)
    path = np.sort(rng.choice(len(w.paths), size=n, p=w.shares))  # cases grouped by path: their rows stay in order
    first = w.axis.place(np.array([w.now - 365 * 86_400 * US]))[0]
    last = w.axis.place(np.array([w.now]))[0]
    reported = w.axis.add(np.full(n, w.axis.start[0]), rng.integers(first, last, n))  # uniform over office time
    entry = np.array([p.entry for p in w.paths], dtype=object)[path]
    cases = {**where, "category": category, "entry": entry, "facts": np.array(facts + [None], dtype=object)[:-1],
             "decision": decisions, "path": path, "reported": reported}
    return cases, History.build(w, cases, rng)


def generate(conn: psycopg.Connection, *, n: int, seed: int = 42, now: datetime | None = None,
             policy: Policy | None = None, report=None) -> Counts:
    """Write n generated cases with their history in the caller's transaction; returns the rows written."""
    policy = policy or Policy()
    w = world(conn, policy, now or datetime.now(timezone.utc))
    rng = np.random.default_rng(seed)
    bulk_repo.quiet(conn)
    counts = Counts()
    for start in range(0, n, CHUNK):
        cases, history = chunk(w, min(CHUNK, n - start), rng)
        ids = bulk_repo.new_case_ids(conn, len(cases["path"]))
        state = final_state(w, cases, history, rng)
        columns, rows = case_columns(w, cases, state, ids)
        counts.cases += bulk_repo.copy_rows(conn, table="event_case", columns=columns, rows=rows)
        for table, (columns, rows) in other_rows(w, cases, history, state, ids).items():
            written = bulk_repo.copy_rows(conn, table=table, columns=columns, rows=rows)
            counts.history += written if table == "case_history" else 0
            counts.decisions += written if table == "routing_decision" else 0
        if report:
            report(counts)
    conn.execute("ANALYZE event_case")
    conn.execute("ANALYZE case_history")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="how many cases (default 100,000)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/citygrid")
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        counts = generate(conn, n=args.n, seed=args.seed,
                          report=lambda c: print(f"  {c.cases:,} cases, {c.history:,} history rows", flush=True))
        conn.commit()
        total = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
    seconds = time.perf_counter() - started
    print(f"loaded {counts.cases:,} generated cases, {counts.history:,} history rows and {counts.decisions:,} "
          f"routing decisions in {seconds:.1f} s ({counts.cases / seconds:,.0f} cases/s, "
          f"{(counts.cases + counts.history + counts.decisions) / seconds:,.0f} rows/s); "
          f"the database now holds {total:,} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
