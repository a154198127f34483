"""Twenty people act on one case at the same moment, each on their own connection: exactly one wins."""
import threading

import psycopg

from core.errors import Conflict
from dispatch.casework.cases import Request, act
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.people import actor


def test_twenty_conflicting_actions_one_winner(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        case_id = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102",
                                lon=113.12, lat=23.02).case_id
        conn.commit()
    attempts = [("accept", "hws", "")] * 10 + [("return", "hws_head", "不属于本单位")] * 10
    barrier = threading.Barrier(len(attempts))
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def attempt(action, who, note):
        with psycopg.connect(chancheng_url) as conn:
            conn.execute("SELECT 1")  # connected and warm before the race starts
            barrier.wait()
            try:
                act(conn, case_id=case_id, action=action, actor=actor(who), policy=Policy(),
                    request=Request(note=note))
                conn.commit()
                result = ("won", action)
            except Conflict as exc:
                conn.rollback()
                result = ("conflict", str(exc))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=a) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [o for o in outcomes if o[0] == "won"]
    conflicts = [o for o in outcomes if o[0] == "conflict"]
    assert len(outcomes) == 20 and len(winners) == 1 and len(conflicts) == 19
    won = winners[0][1]
    status = {"accept": "accepted", "return": "returned"}[won]
    assert all(f"it is {status}" in message and f"last step: {won}" in message for _, message in conflicts)
    with psycopg.connect(chancheng_url) as conn:
        history = conn.execute("SELECT action, from_status, to_status FROM case_history WHERE case_id = %s "
                               "ORDER BY at, id", (case_id,)).fetchall()
        final, version = conn.execute("SELECT status, version FROM event_case WHERE id = %s", (case_id,)).fetchone()
    assert [h[0] for h in history] == ["report", "register", "dispatch", won]
    assert history[-1][1:] == ("dispatched", status) and final == status
    assert version == 4  # created, registered, dispatched, and exactly one more change


def test_crossed_merges_do_not_deadlock(chancheng_url):
    """A merged into B while B is merged into A: one wins, the other is told the target is no longer open."""
    with psycopg.connect(chancheng_url) as conn:
        ids = [submit_report(conn, actor=actor("intake"), policy=Policy(), category_code="0102", lon=113.12 + d,
                             lat=23.02).case_id for d in (0, 0.00001)]
        conn.commit()
    barrier = threading.Barrier(2)
    outcomes = []

    def merge(source, target):
        with psycopg.connect(chancheng_url) as conn:
            barrier.wait()
            try:
                act(conn, case_id=source, action="merge", actor=actor("intake"), policy=Policy(),
                    request=Request(into_case_id=target, note="dup"))
                conn.commit()
                outcomes.append("won")
            except Exception as exc:  # anything but the domain refusal (e.g. a deadlock) fails the test below
                conn.rollback()
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=merge, args=pair) for pair in ((ids[0], ids[1]), (ids[1], ids[0]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # the loser finds a lock conflict, or its target already merged (Inconsistent: merge into an open case)
    assert sorted(outcomes) == ["Conflict", "won"] or sorted(outcomes) == ["Inconsistent", "won"], outcomes
