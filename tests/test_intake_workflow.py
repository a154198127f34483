"""A case inserted directly in a later status (intake in one round trip, the imports) passes the database's own
workflow check at commit only with history rows that walk the workflow table to that status (migration 0012)."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from dispatch.casework.workflow import INITIAL
from dispatch.exchange import bulk_repo
from dispatch.exchange.bulk_import import Mapping, import_events
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.people import actor

COPY_AS = """
INSERT INTO event_case (status, category_code, geom, release_id, district_code, district_name, street_code,
    street_name, community_code, community_name, grid_code, grid_name, source, reporter)
SELECT %(status)s, category_code, geom, release_id, district_code, district_name, street_code, street_name,
       community_code, community_name, grid_code, grid_name, 'test', 'officer'
FROM event_case WHERE id = %(id)s RETURNING id
"""
STEP = """
INSERT INTO case_history (case_id, actor, action, from_status, to_status) VALUES (%s, 'test', %s, %s, %s)
"""


def _officer_case(conn) -> int:
    done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                         lat=23.02)
    conn.commit()
    return done.case_id


def _insert(conn, like: int, status: str, steps: list[tuple]) -> int:
    case_id = conn.execute(COPY_AS, {"status": status, "id": like}).fetchone()[0]
    for action, source, target in steps:
        conn.execute(STEP, (case_id, action, source, target))
    return case_id


def test_intake_inserts_a_dispatched_case_with_the_steps_that_lead_there(conn):
    case_id = _officer_case(conn)  # committed: the check ran and passed
    row = conn.execute("SELECT status, version, department_code, deadline IS NOT NULL FROM event_case WHERE id = %s",
                       (case_id,)).fetchone()
    assert row[0] == "dispatched" and row[1] == 3 and row[2] and row[3]
    steps = conn.execute("SELECT action, from_status, to_status FROM case_history WHERE case_id = %s "
                         "ORDER BY at, id", (case_id,)).fetchall()
    assert steps == [("report", None, INITIAL), ("register", INITIAL, "registered"),
                     ("dispatch", "registered", "dispatched")]
    assert conn.execute("SELECT count(*) FROM routing_decision WHERE case_id = %s", (case_id,)).fetchone()[0] == 1


def test_a_good_path_written_by_hand_is_accepted(conn):
    like = _officer_case(conn)
    case_id = _insert(conn, like, "accepted", [("report", None, INITIAL), ("register", INITIAL, "registered"),
                                               ("dispatch", "registered", "dispatched"),
                                               ("escalate", "dispatched", "dispatched"),  # a note keeps the status
                                               ("accept", "dispatched", "accepted")])
    conn.commit()
    assert conn.execute("SELECT status FROM event_case WHERE id = %s", (case_id,)).fetchone()[0] == "accepted"


@pytest.mark.parametrize("status, steps, message", [
    ("closed", [("report", None, INITIAL)], "history leads to reported"),
    ("dispatched", [("report", None, INITIAL), ("dispatch", "registered", "dispatched")],
     "has the step dispatch from registered to dispatched after reaching reported"),
    ("registered", [("register", INITIAL, "registered")], "does not start with its report"),
    ("registered", [("report", None, INITIAL), ("close", INITIAL, "registered")], "has the step close"),
    ("dispatched", [], "no history rows"),
])
def test_a_bad_direct_insert_is_refused_at_commit(conn, status, steps, message):
    like = _officer_case(conn)
    _insert(conn, like, status, steps)  # the check is deferred: the statements themselves pass
    with pytest.raises(psycopg.errors.CheckViolation, match=message):
        conn.commit()
    assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 1  # nothing of it stayed


def test_a_case_inserted_where_cases_start_needs_no_path(conn):
    like = _officer_case(conn)
    _insert(conn, like, INITIAL, [])
    conn.commit()


def test_a_later_update_in_the_same_transaction_is_followed(conn):
    like = _officer_case(conn)
    case_id = _insert(conn, like, "registered", [("report", None, INITIAL), ("register", INITIAL, "registered")])
    conn.execute("UPDATE event_case SET status = 'merged' WHERE id = %s", (case_id,))  # checked by 0004's trigger
    with pytest.raises(psycopg.errors.CheckViolation, match="is merged but its history leads to registered"):
        conn.commit()  # the merge step's history row is missing


def test_a_bulk_import_of_history_passes_the_check_with_triggers_on(chancheng_url, tmp_path, monkeypatch):
    """As a role that may not skip triggers (no session_replication_role), every imported case is checked."""
    monkeypatch.setattr(bulk_repo, "REPLICA", "SET LOCAL citygrid.no_replica = 'on'")  # the trigger stays on
    tz = ZoneInfo("Asia/Shanghai")
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=tz)
    rows = [["H1", "0102", 113.12, 23.02, t0.isoformat(), "closed", (t0 + timedelta(hours=2)).isoformat(),
             "S-012-HWS"],
            ["H2", "0102", 113.122, 23.022, t0.isoformat(), "accepted", "", "S-012-HWS"],
            ["H3", "0201", 113.1187, 23.0300, t0.isoformat(), "rejected", "", ""],
            ["R1", "0102", 113.13, 23.02, t0.isoformat(), "", "", ""]]
    path = tmp_path / "history.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "type", "x", "y", "time", "status", "closed", "dept"], *rows])
    mapping = Mapping({"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
                       "closed_at": "closed", "department": "dept"}, source="old-platform")
    with psycopg.connect(chancheng_url) as conn:
        result = import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test")
        assert conn.execute("SHOW session_replication_role").fetchone()[0] == "origin"
        conn.commit()
        assert result.imported == 4
        statuses = dict(conn.execute("SELECT external_id, status FROM event_case").fetchall())
    assert statuses == {"H1": "closed", "H2": "accepted", "H3": "rejected", "R1": "dispatched"}
