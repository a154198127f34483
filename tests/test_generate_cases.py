"""bench/generate_cases.py: generated cases carry real-shaped history that the workflow, the clock and the
evaluation accept (real PostGIS, a few thousand cases)."""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from bench import generate_cases
from bench.case_paths import templates, walk
from dispatch.casework.deadlines import due, load_calendar
from dispatch.casework.workflow import NOTES, WITH_DEPARTMENT, transitions
from dispatch.models import Policy
from dispatch.reporting.evaluation import evaluate, previous_period

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
N = 3000


@pytest.fixture
def generated(conn) -> psycopg.Connection:
    counts = generate_cases.generate(conn, n=N, seed=5, now=NOW)
    assert counts.cases == N
    return conn


def _histories(conn) -> dict[int, list[dict]]:
    rows = conn.cursor(row_factory=dict_row).execute(
        "SELECT case_id, at, action, from_status, to_status, department_code, deadline FROM case_history "
        "ORDER BY case_id, at, id").fetchall()
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r["case_id"], []).append(r)
    return out


def _cases(conn) -> dict[int, dict]:
    return {r["id"]: r for r in conn.cursor(row_factory=dict_row).execute("SELECT * FROM event_case")}


def test_every_path_is_a_walk_on_the_workflow_table():
    paths = templates()
    assert abs(sum(p.share for p in paths) - 1) < 1e-9
    allowed = transitions()
    for p in paths:
        for action, before, after in zip(p.actions[1:], p.statuses, p.statuses[1:]):
            assert (action, before, after) in allowed
    with pytest.raises(ValueError):
        walk(("report", "accept"))


def test_consecutive_steps_are_valid_transitions_ending_in_the_case_status(generated):
    allowed, cases = transitions(), _cases(generated)
    histories = _histories(generated)
    assert set(histories) == set(cases)
    for case_id, steps in histories.items():
        assert steps[0]["action"] == "report" and steps[0]["to_status"] == "reported"
        status = "reported"
        for step in steps[1:]:
            if step["action"] in NOTES:  # escalations leave the status as it is
                assert step["from_status"] == step["to_status"] == status
                continue
            assert step["from_status"] == status, (case_id, steps)
            assert (step["action"], step["from_status"], step["to_status"]) in allowed
            status = step["to_status"]
        assert status == cases[case_id]["status"]


def test_rates_are_realistic(generated):
    share = dict(generated.execute("SELECT status, count(*)::float / %s FROM event_case GROUP BY 1", (N,)))
    assert 0.85 < share["closed"] < 0.99
    assert 0.01 < share["rejected"] < 0.1 and 0.005 < share["merged"] < 0.06
    actions = dict(generated.execute("SELECT action, count(*) FROM case_history GROUP BY 1"))
    assert {"return", "check_fail", "approve_extension", "refuse_extension", "reopen", "merge", "reject",
            "await_verification"} <= set(actions)
    assert 0.05 < actions["return"] / actions["dispatch"] < 0.2


def test_counters_and_times_agree_with_the_steps(generated):
    cases = _cases(generated)
    for case_id, steps in _histories(generated).items():
        c, acts = cases[case_id], [s["action"] for s in steps]
        assert c["dispatch_count"] == acts.count("dispatch")
        assert c["return_count"] == acts.count("return")
        assert c["rework_count"] == acts.count("check_fail")
        assert c["extension_count"] == acts.count("approve_extension")
        moves = [s for s in steps if s["action"] not in NOTES]
        assert c["created_at"] == steps[0]["at"]
        sent = [s for s in moves if s["action"] == "dispatch"]
        assert c["dispatched_at"] == (sent[-1]["at"] if sent else None)
        after_handle = [s["action"] for s in moves if s["action"] in ("handle", "dispatch", "check_fail", "reopen")]
        handled = [s for s in moves if s["action"] == "handle"]
        assert c["handled_at"] == (handled[-1]["at"] if after_handle and after_handle[-1] == "handle" else None)
        closing = [s for s in moves if s["action"] in ("close", "reopen")]
        assert c["closed_at"] == (closing[-1]["at"] if closing and closing[-1]["action"] == "close" else None)
        holding = [s for s in moves if s["action"] in ("dispatch", "return", "reopen")]
        held = holding and holding[-1]["action"] == "dispatch"
        assert c["department_code"] == (holding[-1]["department_code"] if held else None)
        if c["status"] in WITH_DEPARTMENT:
            assert c["deadline"] == moves[-1]["deadline"] is not None
            level = 2 if c["deadline"] < NOW else 1 if c["yellow_at"] <= NOW else 0
            assert c["escalation_level"] == level == acts.count("escalate")
        else:
            assert c["escalation_level"] == 0
        if c["status"] == "merged":
            assert c["merged_into"] is not None and c["merged_into"] != case_id


def test_deadlines_and_step_times_follow_the_working_time_clock(generated):
    policy, calendar = Policy(), load_calendar(generated)
    rows = generated.execute(
        "SELECT h.at, h.deadline, c.time_limit FROM case_history h JOIN event_case c ON c.id = h.case_id "
        "WHERE h.action = 'dispatch' AND c.extension_count = 0 AND c.rework_count = 0 ORDER BY h.id LIMIT 200")
    for at, deadline, limit in rows:
        assert deadline == due(calendar, start=at, limit=limit, policy=policy).due
    periods = policy.hours.periods
    people = generated.execute("SELECT at FROM case_history WHERE action IN ('accept', 'handle', 'check_ok', "
                               "'close', 'return') ORDER BY id LIMIT 2000").fetchall()
    for (at,) in people:  # departments, officers and leaders act in office hours, on working days
        local = at.astimezone(policy.tz)
        assert calendar.is_workday(local.date())
        assert any(start <= local.time() <= end for start, end in periods)


def test_the_evaluation_gives_sensible_figures(generated):
    month = previous_period(f"{NOW:%Y-%m}")
    result = evaluate(generated, period=month, by="department", policy=Policy(), now=NOW)
    total = {k: sum(r.current[k] for r in result.rows) for k in ("dispatched", "returned", "due", "handled",
                                                                  "on_time", "reworked", "closed")}
    start, end = result.start, result.end
    sent = generated.execute("SELECT count(*) FROM case_history WHERE action = 'dispatch' AND at >= %s AND at < %s",
                             (start, end)).fetchone()[0]
    assert total["dispatched"] == sent > 0
    assert 0 < total["returned"] < total["dispatched"]
    assert 0.9 < total["handled"] / total["due"] <= 1
    assert 0.5 < total["on_time"] / total["due"] < 0.98  # some are late: the clock is not trivially met
    assert 0 < total["reworked"] < total["due"] / 4
    street = evaluate(generated, period=month, by="street", policy=Policy(), now=NOW)
    assert sum(r.current["reported"] for r in street.rows) > 0
    officers = evaluate(generated, period=month, by="officer", policy=Policy(), now=NOW)
    assert sum(r.current["checks"] for r in officers.rows) > 0


def test_the_command_prints_rows_per_second(chancheng_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", chancheng_url)
    assert generate_cases.main(["200"]) == 0
    out = capsys.readouterr().out
    assert "loaded 200 generated cases" in out and "rows/s" in out
    with psycopg.connect(chancheng_url) as conn:
        assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 200
