"""The bad-input drill: a catalogue of bad inputs (tests/drills/bad_requests.py over HTTP, tests/drills/bad_files.py
through the import commands), each answered by a clear 4xx or a per-row error, the database unchanged.

"Clear" is checked, not assumed: the answer must be a 4xx (a CLI exit 1 or 2, a skipped row), carry a message,
and that message must hold the word the catalogue line names (the field or the problem). "Unchanged" is a digest
of every table (row counts and an md5 of the rows) taken before and after each input; for an events file, exactly
its good rows may be added. The full run goes through `citygrid serve`; quick (and tests/test_drill_bad_inputs.py)
through FastAPI's TestClient on the same app.

Usage: .venv/bin/python -m tests.drills.bad_inputs [--quick]
"""
from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from dispatch.api_clients import add_client
from dispatch.casework.cases import Request, act
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.access_matrix import store_photo
from tests.drills.bad_common import Bad, Id, Outcome, Watch, message_of
from tests.drills.bad_files import import_rows, refuse_files, vector_rows
from tests.drills.bad_requests import CATALOGUE, REPORT
from tests.drills.common import city, command, result, serving
from tests.people import actor, bearer

TITLE = "bad inputs: reports, photos, workflow, Open311, filters, CSV and grid imports"
CAST = ("officer", "intake", "dispatcher", "hws", "shift", "admin")
MISSING = 987_654_321  # a case id that does not exist

# The cases the workflow lines act on, each left in one state: the steps that take it there from filing.
STATES = {
    "dispatched": [],
    "returned": [("return", "hws", {"note": "不归我们 not ours"})],
    "accepted": [("accept", "hws", {})],
    "extension": [("accept", "hws", {}), ("request_extension", "hws", {"note": "需要更多时间 more time"})],
    "handled": [("accept", "hws", {}), ("handle", "hws", {"note": "已清理 cleaned", "attachments": "photo"})],
    "closed": [("accept", "hws", {}), ("handle", "hws", {"note": "已清理 cleaned", "attachments": "photo"}),
               ("check_ok", "officer", {}), ("close", "shift", {})],
}
STATUS = {"extension": "extension_requested"}


def seed(url: str, media_root: str) -> dict:
    """What the catalogue's Id(...) and {placeholders} name: a case in each state, a reported one, two unused
    photos (a handler's, an officer's), an Open311 client's key. Commits."""
    policy, ids = Policy(), {"missing": MISSING}
    with psycopg.connect(url) as conn:
        for n, (state, steps) in enumerate(STATES.items()):  # 100 m apart: none is a likely duplicate of another
            case_id = submit_report(conn, actor=actor("officer"), policy=policy, category_code="0102",
                                    lon=113.12 + n / 1000, lat=23.02, description=f"bad-input drill: {state}").case_id
            for name, who, body in steps:
                if body.get("attachments"):
                    body = {**body, "attachments": [store_photo(conn, media_root, uploaded_by=who, colour="red")]}
                act(conn, case_id=case_id, action=name, actor=actor(who), policy=policy, request=Request(**body))
            ids[state] = case_id
        ids["reported"] = submit_report(conn, actor=actor("intake"), policy=policy, category_code="0102",
                                        lon=113.1187, lat=23.03, description="waits for intake").case_id
        ids["photo_hws"] = store_photo(conn, media_root, uploaded_by="hws", colour="green")
        ids["photo_officer"] = store_photo(conn, media_root, uploaded_by="officer", colour="blue")
        ids["api_key"] = add_client(conn, name="bad-inputs", trust="public", rate_per_minute=100_000)
        statuses = dict(conn.execute("SELECT id, status FROM event_case").fetchall())
        conn.commit()
    wrong = {s: statuses[ids[s]] for s in [*STATES, "reported"] if statuses[ids[s]] != STATUS.get(s, s)}
    assert not wrong, f"the drill's cases are not in the states it needs: {wrong}"
    return ids


def _resolve(value, ids: dict):
    """The request arguments with each Id(...) replaced by the id it names and file makers called."""
    if isinstance(value, Id):
        return ids[value.name]
    if isinstance(value, dict):
        return {k: _resolve(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, ids) for v in value]
    return value() if callable(value) else value


def send(http, bad: Bad, ids: dict, tokens: dict, watch: Watch) -> Outcome:
    """One catalogue line over HTTP, and what it changed in the database."""
    kwargs = _resolve(bad.send, ids)
    headers = {**(bearer(tokens[bad.who]) if bad.who else {}), **kwargs.pop("headers", {})}
    if "json" in kwargs:  # encoded here: httpx refuses NaN and Infinity, which are bad inputs to send
        kwargs["content"] = json.dumps(kwargs.pop("json"))
        headers["content-type"] = "application/json"
    response = http.request(bad.method, bad.path.format(**ids), headers=headers, **kwargs)
    status = response.status_code
    return Outcome(bad.area, bad.what, str(status), 400 <= status < 500, status >= 500, message_of(response),
                   bad.says, watch.changes())


def exercise(url: str, tokens: dict, media_root: str, http) -> list[Outcome]:
    """The whole catalogue against a Chancheng database with the cast's accounts, `http` being a client of the
    app serving it (httpx.Client or TestClient)."""
    ids = seed(url, media_root)
    for token in tokens.values():  # each token's first use is recorded before any baseline is taken
        http.get("/api/me", headers=bearer(token))
    first = http.post("/api/reports", json={**REPORT, "lon": 113.121, "lat": 23.021, "description": "first"},
                      headers={**bearer(tokens["officer"]), "Idempotency-Key": "drill-key-1"})
    assert first.status_code == 201, first.text  # the key a catalogue line reuses with another body
    watch = Watch(url)
    try:
        outcomes = [send(http, bad, ids, tokens, watch) for bad in CATALOGUE]
    finally:
        watch.close()
    with tempfile.TemporaryDirectory() as folder:
        for check in (import_rows, vector_rows, refuse_files):
            outcomes += check(url, Path(folder))
    return outcomes


def figures(outcomes: list[Outcome]) -> dict:
    """The drill's figures: inputs tried (and per area), server errors, unclear answers, database changes."""
    areas = Counter(o.area for o in outcomes)
    return {"inputs tried": len(outcomes), **{f"inputs: {area}": n for area, n in areas.items()},
            "answers >= 500 (CLI: a traceback)": sum(o.server_error for o in outcomes),
            "unclear answers (not a 4xx, no message, or not saying what)": sum(
                not o.clear and not o.server_error for o in outcomes),
            "database changes": sum(bool(o.changes) for o in outcomes)}


TARGETS = {"inputs tried": ">= 100", "answers >= 500 (CLI: a traceback)": "= 0",
           "unclear answers (not a 4xx, no message, or not saying what)": "= 0", "database changes": "= 0"}


def faults(outcomes: list[Outcome]) -> list[str]:
    """One line per input that missed: its area, what it was, the answer and the message."""
    return [f"{o.area}: {o.what}: {o.answer} {o.message[:160]!r} (should say {o.says!r}) changed {o.changes}"
            for o in outcomes if o.server_error or not o.clear or o.changes]


@contextmanager
def client(url: str, media_root: str, *, served: bool):
    """An HTTP client of the app: `citygrid serve` (served) or FastAPI's TestClient in this process."""
    if served:
        with serving(url, media_root=media_root) as base, httpx.Client(base_url=base, timeout=120) as http:
            yield http
    else:
        from fastapi.testclient import TestClient

        from citygrid.app import build_app
        from citygrid.settings import Settings
        app = build_app(Settings(database_url=url, media_root=media_root))
        with TestClient(app, raise_server_exceptions=False) as http:
            yield http


def run(quick: bool = False) -> dict:
    """The whole catalogue in a database of its own: over `citygrid serve`, or (quick) through the TestClient."""
    with city("bad_inputs", cast=CAST) as (url, tokens), tempfile.TemporaryDirectory() as media_root:
        with client(url, media_root, served=not quick) as http:
            outcomes = exercise(url, tokens, media_root, http)
    return {**result(figures(outcomes), TARGETS), "wrong": faults(outcomes)}


if __name__ == "__main__":
    sys.exit(command(TITLE, run))
