"""The kill -9 drill's short version: one kill -9 of `citygrid serve` (2 workers) under retrying clients; counts
only (the recovery time is printed by the drill, never asserted)."""
import psycopg

from tests.drills import kill9
from tests.people import add_cast


def test_kill9_of_the_server_under_retrying_clients_loses_nothing_acknowledged_and_files_nothing_twice(
        chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        officer = add_cast(conn, ["officer"])["officer"]
    figures = kill9.drill(chancheng_url, officer, rounds=1, clients=6)["figures"]
    print(figures)
    assert figures["rounds (kill -9, start again)"] == 1 and figures["processes killed (server and workers)"] >= 3
    assert figures["killed processes still running"] == 0 and figures["processes that outlived the final stop"] == 0
    assert figures["reports acknowledged (2xx)"] > 0 and figures["requests cut off by the kill"] > 0
    assert figures["acknowledged lost"] == 0 and figures["duplicates"] == 0
    assert figures["filed, never acknowledged"] == 0
    assert figures["answers >= 500 other than 503"] == 0 and figures["refusals other than 503 (4xx)"] == 0
    assert figures["503 without Retry-After"] == 0
    assert figures["first success after start, per round (s)"] != "none"  # it answered again (how fast: printed)
