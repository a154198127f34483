"""Reference data is cached in every app process, and an admin's change is seen by the next report in each of them:
two real uvicorn processes on loopback ports serve the same database; their caches are warmed, an admin changes
the routing rules (admin API) and a category's time limit (the import the CLI runs), and the next report in each
process follows the new data. Also the cache itself: a notification drops a kind, and a load that was in flight
when the notification came is not kept."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.procs import answers, free_port, running
from citygrid.settings import Settings

from dispatch.intake.reference import Reference
from events.service import import_categories
from tests.people import add_cast, bearer

ROOT = Path(__file__).resolve().parents[1]
BODY = {"category": "0102", "lon": 113.12, "lat": 23.02, "description": "满溢"}


@pytest.fixture
def two_processes(chancheng_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": chancheng_url, "CITYGRID_MEDIA_ROOT": str(tmp_path)}
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    with contextlib.ExitStack() as stack:
        for port, url in zip(ports, urls):
            stack.enter_context(running(
                [sys.executable, "-m", "uvicorn", "citygrid.app:build_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--no-access-log"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, ready=answers(f"{url}/api/health"), timeout=30))
        yield urls


def _report(url: str, token: str, lon: float) -> dict:
    answer = httpx.post(f"{url}/api/reports", json={**BODY, "lon": lon}, headers=bearer(token), timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _deadline_hours(url: str, token: str, case_id: int) -> float:
    case = httpx.get(f"{url}/api/cases/{case_id}", headers=bearer(token), timeout=30).json()
    start, due = (datetime.fromisoformat(case[k]) for k in ("dispatched_at", "deadline"))
    return (due - start).total_seconds() / 3600


def test_an_admin_change_is_seen_by_the_next_report_in_every_process(chancheng_url, two_processes, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer", "admin"])
    officer = tokens["officer"]
    lons = iter(113.10 + 0.002 * i for i in range(40))  # far enough apart: no likely duplicates
    for url in two_processes:  # warm: each process caches categories, rules, street units and the calendar
        for _ in range(2):
            assert _report(url, officer, next(lons))["department_code"] == "S-012-HWS"  # 祖庙's 环卫所 by the rules

    changed = httpx.post(f"{two_processes[0]}/api/admin/rules", headers=bearer(tokens["admin"]), timeout=30, json={
        "name": "everything to 市政", "rules": [{"name": "all", "recipient_kind": "department",
                                                "department": "D-SZGL"}]})
    assert changed.status_code == 201, changed.text
    for url in two_processes:  # the very next report, no waiting for the notification
        assert _report(url, officer, next(lons))["department_code"] == "D-SZGL"

    table = tmp_path / "categories.csv"
    table.write_text("code,major_code,major_name,name,limit\n0102,01,市容环境,暴露垃圾,24ch\n", encoding="utf-8")
    with psycopg.connect(chancheng_url) as conn:  # what `citygrid categories import` runs, then its commit
        import_categories(conn, path=table)
        conn.commit()
    for url in two_processes:
        done = _report(url, officer, next(lons))
        assert _deadline_hours(url, officer, done["case_id"]) == 24


def test_a_notification_drops_the_kinds_that_read_the_table(conn):
    reference = Reference()
    versions = dict(conn.execute("SELECT table_name, version FROM reference_version").fetchall())
    first = reference.get(conn, "rules", versions=versions)
    assert reference.get(conn, "rules", versions=versions) is first and reference.loads["rules"] == 1
    reference.table_changed("category")  # another kind's table: rules stay
    assert reference.get(conn, "rules", versions=versions) is first
    reference.table_changed("routing_rule")
    assert reference.get(conn, "rules", versions=versions) is not first and reference.loads["rules"] == 2


def test_a_changed_version_is_reloaded_even_before_the_notification(conn):
    reference = Reference()
    read = lambda: dict(conn.execute("SELECT table_name, version FROM reference_version").fetchall())  # noqa: E731
    before = reference.get(conn, "categories", versions=read())
    conn.execute("UPDATE category SET time_limit = '3wd' WHERE code = '0102'")  # the trigger bumps the version
    after = reference.get(conn, "categories", versions=read())
    assert before["0102"].time_limit != "3wd" and after["0102"].time_limit == "3wd"
    conn.rollback()


def test_a_load_in_flight_when_the_notification_arrives_is_not_kept(conn, monkeypatch):
    from dispatch.intake import reference as module

    reference = Reference()
    real = module.LOADERS["calendar"]

    def load_while_notified(c):
        value = real(c)
        reference.invalidate("calendar")  # the NOTIFY lands while this load runs
        return value

    monkeypatch.setitem(module.LOADERS, "calendar", load_while_notified)
    reference.get(conn, "calendar")
    monkeypatch.setitem(module.LOADERS, "calendar", real)
    reference.get(conn, "calendar")
    assert reference.loads["calendar"] == 2  # the first value was returned to its request but not cached


def _until(condition, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def test_the_live_connection_drops_the_cache_on_notify_and_after_a_reconnect(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        token = add_cast(conn, ["officer"])["officer"]
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path)))) as client:
        hub, reference = client.app.state.hub, client.app.state.reference
        _until(hub.listening.is_set, "the live feed never listened")
        assert client.post("/api/reports", json=BODY, headers=bearer(token)).status_code == 201
        assert {"rules", "street_units", "calendar", "categories"} <= reference.cached()
        with psycopg.connect(chancheng_url) as conn:
            conn.execute("UPDATE department SET name = name || ' ' WHERE code = 'D-SZGL'")
        _until(lambda: "street_units" not in reference.cached(), "the notification did not drop street_units")
        assert "rules" in reference.cached()
        with psycopg.connect(chancheng_url, autocommit=True) as conn:  # the LISTEN connection is lost
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND query LIKE 'LISTEN%%'")
        _until(lambda: not reference.cached(), "a reconnect did not drop the cache")
        _until(hub.listening.is_set, "the live feed did not come back")
