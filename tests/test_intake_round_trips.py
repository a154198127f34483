"""One officer report through the real endpoint costs at most 3 round trips to PostgreSQL and exactly one commit,
counted on the wire by a proxy between the app and the database (tests/pgproxy.py): the sign-in, every read in
one pipeline, every write with the COMMIT in the next. Also for a report with a likely duplicate (registered,
not dispatched) and for an idempotent replay."""
import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.pgproxy import CountingProxy
from tests.people import add_cast, bearer

ROUND_TRIPS = 3  # BEGIN with the sign-in, the reads, the writes with the COMMIT
BODY = {"category": "0102", "lon": 113.12, "lat": 23.02, "description": "满溢"}


@pytest.fixture
def counted(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer"])
    params = conninfo_to_dict(chancheng_url)
    proxy = CountingProxy((params.get("host", "127.0.0.1"), int(params.get("port", 5432))))
    url = make_conninfo(chancheng_url, host="127.0.0.1", port=proxy.port, sslmode="disable",
                        gssencmode="disable")
    settings = Settings(database_url=url, media_root=str(tmp_path), db_connections=4)
    with TestClient(build_app(settings)) as client:
        _wait_until_listening(client)
        client.headers.update(bearer(tokens["officer"]))
        client.proxy = proxy
        yield client
    proxy.close()


def _wait_until_listening(client) -> None:
    hub = client.app.state.hub
    for _ in range(200):
        if hub.listening.is_set():
            return
        time.sleep(0.05)
    raise AssertionError("the live feed never started listening")


def _count(client, body: dict, headers: dict | None = None):
    client.proxy.reset()
    answer = client.post("/api/reports", json=body, headers=headers or {})
    time.sleep(0.05)  # the last bytes of the pool's return of the connection, if any, reach the proxy
    return answer, client.proxy.used()


def _check(used, answer, statements: int) -> None:
    """One connection, at most ROUND_TRIPS round trips, one commit, and no more statements than the path sends
    today (BEGIN and COMMIT included)."""
    assert answer.status_code == 201, answer.text
    text = "\n\n".join("\n".join(t.statements) for t in used)
    assert len(used) == 1, text
    assert used[0].round_trips <= ROUND_TRIPS and used[0].commits == 1, text
    assert len(used[0].statements) <= statements, text


def test_an_officer_report_is_three_round_trips_and_one_commit(counted):
    warm, _ = _count(counted, BODY)  # the first report loads the reference data into the process's cache
    assert warm.json()["status"] == "dispatched"
    answer, used = _count(counted, {**BODY, "lon": 113.13})
    assert answer.json()["status"] == "dispatched" and answer.json()["department_code"]
    _check(used, answer, statements=7)


def test_a_report_with_a_likely_duplicate_is_three_round_trips(counted):
    first, _ = _count(counted, BODY)
    answer, used = _count(counted, {**BODY, "lon": 113.12002})
    assert answer.json()["status"] == "registered"
    assert [d["id"] for d in answer.json()["likely_duplicates"]] == [first.json()["case_id"]]
    _check(used, answer, statements=7)


def test_an_idempotent_replay_is_three_round_trips(counted):
    _count(counted, BODY)
    key = {"Idempotency-Key": "count-me"}
    first, used = _count(counted, {**BODY, "lon": 113.13}, key)
    _check(used, first, statements=10)
    again, used = _count(counted, {**BODY, "lon": 113.13}, key)
    assert again.headers["idempotent-replay"] == "true" and again.json() == first.json()
    _check(used, again, statements=8)


def test_a_refused_report_leaves_the_connection_as_it_found_it(chancheng_url, tmp_path):
    """The route runs its transaction in autocommit mode with its own BEGIN: whatever it refuses, the one
    connection goes back to the pool outside any transaction and in its normal mode, and the next request works."""
    with psycopg.connect(chancheng_url) as conn:
        token = add_cast(conn, ["officer"])["officer"]
    settings = Settings(database_url=chancheng_url, media_root=str(tmp_path), db_connections=1)
    with TestClient(build_app(settings)) as client:
        officer = bearer(token)
        assert client.post("/api/reports", json={**BODY, "lon": 113.5}, headers=officer).status_code == 422
        assert client.post("/api/reports", json=BODY, headers=bearer("cg_unknown")).status_code == 401
        assert client.post("/api/reports", json={**BODY, "category": "9999"}, headers=officer).status_code == 422
        with client.app.state.db.pool.connection() as conn:
            assert not conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert client.post("/api/reports", json=BODY, headers=officer).json()["status"] == "dispatched"
        assert client.get("/api/cases", params={"queue": "mine"}, headers=officer).status_code == 200
    with psycopg.connect(chancheng_url) as conn:
        assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 1
