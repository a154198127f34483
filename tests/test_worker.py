"""The worker: one escalation per level, recorded in history; notifications delivered at least once, never twice."""
from zoneinfo import ZoneInfo

import psycopg

from dispatch.casework.outbox import deliver, escalate, inbox
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.people import actor, add_cast

SH = ZoneInfo("Asia/Shanghai")


def open_case(conn) -> int:
    case_id = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                            lat=23.02).case_id
    conn.commit()
    return case_id


def age(conn, case_id, *, yellow: str, deadline: str) -> None:
    conn.execute("UPDATE event_case SET yellow_at = now() - %s::interval, deadline = now() - %s::interval "
                 "WHERE id = %s", (yellow, deadline, case_id))


def escalations(conn, case_id):
    return [r[0] for r in conn.execute("SELECT detail->>'light' FROM case_history WHERE case_id = %s AND "
                                       "action = 'escalate' ORDER BY id", (case_id,)).fetchall()]


def test_yellow_then_red_each_once(conn):
    add_cast(conn, ["hws", "hws_head", "dispatcher", "cgzd"])
    case_id = open_case(conn)
    assert escalate(conn, tz=SH) == 0
    age(conn, case_id, yellow="1 minute", deadline="-1 hour")  # yellow, not yet due
    assert escalate(conn, tz=SH) == 1 and escalate(conn, tz=SH) == 0
    age(conn, case_id, yellow="2 hours", deadline="1 minute")  # now overdue
    assert escalate(conn, tz=SH) == 1 and escalate(conn, tz=SH) == 0
    assert escalations(conn, case_id) == ["yellow", "red"]
    tick = deliver(conn)
    assert tick.failed == 0
    subjects = {u: [m["subject"] for m in inbox(conn, username=u)] for u in ("hws", "hws_head", "dispatcher", "cgzd")}
    assert any("is yellow" in s for s in subjects["hws"]) and not any("is red" in s for s in subjects["hws"])
    assert any("is red" in s for s in subjects["hws_head"])
    assert any("overdue" in s for s in subjects["dispatcher"])
    assert subjects["cgzd"] == []  # another department hears nothing
    assert any(f"case {case_id} dispatched" in s for s in subjects["hws"])  # the dispatch itself was announced


def test_a_case_that_jumps_straight_to_red_records_both_levels(conn):
    case_id = open_case(conn)
    age(conn, case_id, yellow="3 hours", deadline="1 hour")
    assert escalate(conn, tz=SH) == 2 and escalations(conn, case_id) == ["yellow", "red"]


def test_delivery_is_retried_and_never_doubled(conn):
    add_cast(conn, ["hws"])
    open_case(conn)
    conn.execute("INSERT INTO outbox (kind, payload) VALUES ('case', '{\"to\": {\"roles\": [\"handler\"]}}')")
    first = deliver(conn)
    assert first.failed == 1 and first.delivered >= 1  # the broken row (no subject) fails alone
    broken = conn.execute("SELECT attempts, last_error, next_attempt_at > now() FROM outbox "
                          "WHERE delivered_at IS NULL").fetchone()
    assert broken[0] == 1 and broken[1] and broken[2]
    before = conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0]
    conn.execute("UPDATE outbox SET delivered_at = NULL")  # as if the worker died before recording delivery
    conn.execute("UPDATE outbox SET next_attempt_at = now() - interval '1 second'")
    deliver(conn)
    assert conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0] == before


def test_two_workers_do_not_escalate_the_same_case_twice(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        case_id = open_case(conn)
        age(conn, case_id, yellow="1 minute", deadline="-1 hour")
        conn.commit()
    with psycopg.connect(chancheng_url) as a, psycopg.connect(chancheng_url) as b:
        first = escalate(a, tz=SH)       # holds the row lock until commit
        second = escalate(b, tz=SH)      # skips the locked row
        a.commit()
        b.commit()
        assert (first, second) == (1, 0)
        assert escalations(a, case_id) == ["yellow"]
