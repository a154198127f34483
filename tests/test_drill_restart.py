"""The database restart drill's short version: one restart of a private PostgreSQL cluster under retrying clients
through `citygrid serve` (2 workers); counts only (the recovery time is printed by the drill, never asserted)."""
from tests.drills import restart
from tests.drills.cluster import private_cluster
from tests.drills.common import make_city


def test_database_restart_under_retrying_clients_answers_503_while_down_and_loses_nothing():
    with private_cluster() as cluster:
        url, tokens = make_city("restart_test", cluster.url, cast=("officer",))
        figures = restart.drill(url, tokens["officer"], cluster, rounds=1, clients=8)["figures"]
    print(figures)
    assert figures["rounds (stop, start)"] == 1 and figures["reports acknowledged (2xx)"] > 0
    assert figures["acknowledged lost"] == 0 and figures["duplicates"] == 0
    assert figures["filed, never acknowledged"] == 0
    assert figures["requests sent while down"] > 0 and figures["answers while down other than 503"] == 0
    assert figures["answers >= 500 other than 503"] == 0 and figures["refusals other than 503 (4xx)"] == 0
    assert figures["503 without Retry-After"] == 0
    assert figures["first success after back, per round (s)"] != "none"  # it answered again (how fast: printed)
