"""A burst against the production server (`citygrid serve`, a real uvicorn): no stall, no 500, and recovery after
the database drops every connection."""
from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.people import add_cast, bearer
from tests.served import served

ZUMIAO_POINTS = [(113.1180 + 0.0004 * (i % 10), 22.9870 + 0.0004 * (i // 10)) for i in range(64)]


@pytest.fixture
def city(chancheng_url):
    """A fresh Chancheng database with the cast's tokens, and one case to read."""
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer", "leader", "hws"])
    return chancheng_url, tokens


async def _burst(base: str, tokens: dict, n: int) -> list[int]:
    """n requests at once: reports, case reads, map views and queues, each with a bearer token."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        def one(i: int):
            if i % 4 == 0:
                lon, lat = ZUMIAO_POINTS[i]
                return client.post("/api/reports", headers=bearer(tokens["officer"]),
                                   json={"category": "0102", "lon": lon, "lat": lat, "description": f"burst {i}"})
            if i % 4 == 1:
                return client.get("/api/cases/1", headers=bearer(tokens["leader"]))
            if i % 4 == 2:
                return client.get("/api/map/cases", headers=bearer(tokens["leader"]),
                                  params={"west": 112.9, "south": 22.9, "east": 113.3, "north": 23.2, "zoom": 12})
            return client.get("/api/cases", params={"queue": "department"}, headers=bearer(tokens["hws"]))
        answers = await asyncio.gather(*(one(i) for i in range(n)))
    return [a.status_code for a in answers]


def test_64_simultaneous_requests_get_no_server_error_and_the_next_one_answers(city):
    url, tokens = city
    with served(url, db_connections="4", db_wait_seconds="10") as base:
        first = httpx.post(f"{base}/api/reports", headers=bearer(tokens["officer"]),
                           json={"category": "0102", "lon": 113.12, "lat": 23.02, "description": "first"})
        assert first.status_code == 201, first.text
        started = time.monotonic()
        codes = asyncio.run(_burst(base, tokens, 64))
        assert len(codes) == 64 and time.monotonic() - started < 60  # every request was answered
        assert [c for c in codes if c >= 500] == [], codes
        assert codes.count(201) == 16  # every report was filed
        after = httpx.get(f"{base}/api/cases/1", headers=bearer(tokens["leader"]))
        assert after.status_code == 200
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM event_case WHERE description LIKE 'burst %%'").fetchone()[0] == 16


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
