"""A burst against the production server (`citygrid serve`, a real uvicorn): no stall, no 500, and recovery after
the database drops every connection."""
from __future__ import annotations

import time

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.drills import burst
from tests.people import add_cast, bearer
from tests.served import served

@pytest.fixture
def city(chancheng_url):
    """A fresh Chancheng database with the cast's tokens."""
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer", "leader", "hws"])
    return chancheng_url, tokens


def test_64_simultaneous_requests_get_no_server_error_and_the_next_one_answers(city):
    url, tokens = city
    # the burst drill (tests/drills/burst.py) with one burst of 64 on a pool of 4; its figures are counts, and
    # the slowest answer (a time) is printed, not asserted
    outcome = burst.drill(url, tokens, n=64, rounds=1, db_connections="4", db_wait_seconds="10")
    figures = outcome["figures"]
    print(figures)
    assert figures["requests"] == 64 and figures["no answer"] == 0  # every request was answered
    assert figures["answers >= 500"] == 0 and figures["answers other than 200/201"] == 0
    assert figures["reports acknowledged (201)"] == figures["reports in the database"] == 16  # every report filed
    assert figures["next request after a burst not 200"] == 0


def test_dropped_connections_answer_503_and_the_app_recovers_by_itself(city):
    url, tokens = city
    name = f"cg_burst_{int(time.time() * 1000) % 10**9}"
    with served(make_conninfo(url, application_name=name), db_connections="4") as base:
        headers = bearer(tokens["leader"])
        assert httpx.get(f"{base}/api/me", headers=headers).status_code == 200
        with psycopg.connect(url, autocommit=True) as admin:  # what a database restart does to the pool
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = %s", (name,)).fetchone()[0]
        assert killed >= 4
        codes, recovered_after = [], None
        started = time.monotonic()
        while time.monotonic() - started < 15:
            answer = httpx.get(f"{base}/api/me", headers=headers, timeout=15)
            codes.append(answer.status_code)
            if answer.status_code == 503:
                assert answer.headers.get("retry-after"), "a 503 says when to retry"
            if answer.status_code == 200:
                recovered_after = time.monotonic() - started
                break
        print(f"after the drop: {codes}, recovered in {recovered_after} s")
        assert set(codes) <= {200, 503}, codes  # never a 500
        assert recovered_after is not None, codes
