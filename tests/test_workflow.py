"""The workflow table: the Python list and the database's list are the same, and the trigger enforces it."""
import psycopg
import pytest

from dispatch.casework.workflow import FINAL, STATUSES, STEPS, actions_from, transitions


def test_python_and_database_tables_are_identical(shared_conn):
    in_db = set(shared_conn.execute("SELECT action, from_status, to_status FROM workflow_transition").fetchall())
    assert in_db == transitions()


def test_database_status_list_matches(shared_conn):
    check = shared_conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'event_case_status_check'").fetchone()[0]
    assert sorted(s for s in STATUSES if f"'{s}'" in check) == sorted(STATUSES)


def test_every_status_is_reachable_and_every_open_status_has_a_way_on():
    targets = {s.target for s in STEPS.values()} | {"reported"}
    assert targets == set(STATUSES)
    for status in STATUSES:
        if status not in FINAL - {"closed", "rejected"} and status != "merged":
            assert actions_from(status), status


@pytest.mark.parametrize("action", ["reject", "return", "request_extension", "refuse_extension", "check_fail",
                                    "reopen", "handle"])
def test_actions_that_need_a_reason(action):
    assert STEPS[action].needs_reason


def test_trigger_refuses_a_jump_the_table_does_not_allow(conn):
    from dispatch.intake.service import submit_report
    from dispatch.models import Policy
    from tests.people import actor

    done = submit_report(conn, actor=actor("intake"), policy=Policy(), category_code="0102", lon=113.12, lat=23.02)
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot go from reported to closed"):
        conn.execute("UPDATE event_case SET status = 'closed' WHERE id = %s", (done.case_id,))
    conn.rollback()
    conn.execute("UPDATE event_case SET status = 'registered' WHERE id = %s", (done.case_id,))
    version = conn.execute("SELECT version FROM event_case WHERE id = %s", (done.case_id,)).fetchone()[0]
    assert version == 2  # the trigger bumps the version on every change
