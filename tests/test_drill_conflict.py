"""The conflict drill's short version: 100 people act on one case at once through the served app, step after step."""
import psycopg

from tests.drills import conflict
from tests.people import add_cast


def test_100_conflicting_actions_per_step_one_winner_no_server_error_history_consistent(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        officer = add_cast(conn, ["officer"])["officer"]
    outcome = conflict.drill(chancheng_url, officer, n=100)
    figures = outcome["figures"]
    assert figures["attempts"] >= 300 and figures["conflicting steps"] >= 3
    assert figures["steps without exactly one winner"] == 0
    assert figures["answers >= 500"] == 0 and figures["answers neither 200 nor 409"] == 0
    assert figures["history faults"] == 0
    assert outcome["ok"]
