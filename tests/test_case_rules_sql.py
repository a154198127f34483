"""The case rules in SQL (migration 0016) say what dispatch/casework/workflow.py says, the light follows the deadline rule
at every boundary, the live feed uses the same light, and PostgreSQL inlines the functions: a query that says
case_is_held() still reads the partial index on the held cases."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dispatch.casework.workflow import FINAL, STATUSES, WITH_DEPARTMENT

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def test_the_status_sets_are_the_workflows(shared_conn):
    for status in STATUSES:
        final, held = shared_conn.execute("SELECT case_is_final(%s), case_is_held(%s)", (status, status)).fetchone()
        assert (final, held) == (status in FINAL, status in WITH_DEPARTMENT), status


@pytest.mark.parametrize("status, deadline, yellow_at, light", [
    ("dispatched", AT + timedelta(hours=5), AT + timedelta(hours=1), "green"),
    ("accepted", AT + timedelta(hours=5), AT, "yellow"),              # the warning time itself
    ("extension_requested", AT, AT - timedelta(hours=1), "yellow"),   # the deadline itself is not yet past
    ("accepted", AT - timedelta(seconds=1), AT - timedelta(hours=1), "red"),
    ("dispatched", None, None, "green"),                               # no deadline never falls due
    ("handled", AT - timedelta(hours=5), AT - timedelta(hours=6), None),  # nobody holds it: no light
    ("closed", AT - timedelta(hours=5), AT - timedelta(hours=6), None),
])
def test_the_light_at_its_boundaries(shared_conn, status, deadline, yellow_at, light):
    assert shared_conn.execute("SELECT case_light(%s, %s, %s, %s)",
                               (status, deadline, yellow_at, AT)).fetchone()[0] == light


def test_no_query_writes_the_status_lists_or_the_light_out_again():
    """The lists and the light are said once (migration 0016); the application's SQL calls the functions."""
    held = re.compile(r"'(accepted|dispatched|extension_requested)',\s*'(accepted|dispatched|extension_requested)'")
    final = re.compile(r"'(closed|rejected|merged)',\s*'(closed|rejected|merged)'")
    light = re.compile(r"THEN 'red'")
    found = []
    for package in ("gis", "events", "dispatch", "web", "citygrid"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            found += [f"{path.relative_to(ROOT)}: {p.pattern}" for p in (held, final, light) if p.search(text)]
    assert found == []


def test_the_functions_are_inlined_and_the_partial_index_is_read(shared_conn):
    with shared_conn.transaction():
        shared_conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in shared_conn.execute(
            "EXPLAIN SELECT id FROM event_case c WHERE case_is_held(c.status) "
            "AND coalesce(c.deadline, 'infinity'::timestamptz) < now()").fetchall())
        verbose = "\n".join(r[0] for r in shared_conn.execute(
            "EXPLAIN VERBOSE SELECT case_light(c.status, c.deadline, c.yellow_at, now()) FROM event_case c").fetchall())
    assert re.search(r"event_case_held_\w*due_idx", plan), plan  # one of the partial indexes on held cases
    assert "case_light" not in verbose and "case_is_held" not in verbose and "CASE WHEN" in verbose, verbose
