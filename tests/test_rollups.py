"""The rollups of migration 0013 against a plain recount of event_case, after a random run of the real workflow."""
import math
import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from psycopg.rows import dict_row

from core.errors import DomainError
from dispatch.casework.workflow import FINAL, WITH_DEPARTMENT, actions_from
from dispatch.exchange.bulk_import import import_events
from dispatch.models import Policy
from dispatch.reporting import rollups
from dispatch.reporting.dashboard import dashboard
from dispatch.reporting.evaluation import evaluate
from dispatch.reporting.mapview import Box, MapFilter, cell_size, view
from gis.service import create_release
from tests.people import SHIWAN, ZUMIAO
from tests.test_bulk_import import MAPPING, write_csv
from tests.test_scenarios import Flow

TZ = ZoneInfo("Asia/Shanghai")
FULL = {"street": None, "department": None, "grids": None}
DISTRICT = Box(112.9, 22.9, 113.3, 23.2)
PLACES = [(113.12, 23.02), (113.1187, 23.0300), (113.121, 23.021), (113.1180, 22.9870), (113.105, 23.042)]
CATEGORIES = ["0102", "0201", "0110", "0406", "0102"]
HANDLERS = {"S-012-HWS": "hws", "S-012-CGZD": "cgzd", "D-SZGL": "szgl"}
WHO = {"accept": "dept", "return": "dept", "request_extension": "dept", "handle": "dept", "approve_extension": "shift",
       "refuse_extension": "shift", "check_ok": "officer", "check_fail": "officer", "close": "shift",
       "reopen": "shift", "dispatch": "dispatcher", "register": "intake", "reject": "intake", "merge": "dispatcher"}


def test_the_status_classes_are_the_workflows(shared_conn):
    classes = dict(shared_conn.execute("SELECT status, state FROM case_status_class").fetchall())
    assert {s for s, k in classes.items() if k == 0} == FINAL
    assert {s for s, k in classes.items() if k == 2} == WITH_DEPARTMENT
    body = shared_conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'rollup_apply'").fetchone()[0]
    assert "VALUES " + ", ".join(f"({level})" for level in rollups.LEVELS) in body


def random_history(flow: Flow, rng: random.Random, *, reports: int, steps: int) -> list[int]:
    """Reports at a few places (so some are duplicates), then random actions by whoever may take them."""
    ids = []
    for i in range(reports):
        lon, lat = PLACES[rng.randrange(len(PLACES))]
        at = (lon + rng.uniform(-0.004, 0.004), lat + rng.uniform(-0.004, 0.004))
        who = "officer2" if lat < 23.0 else rng.choice(["officer", "intake"])
        try:
            ids.append(flow.report(who=who, category=rng.choice(CATEGORIES), at=at, description=f"r{i}").case_id)
        except DomainError:
            flow.conn.rollback()
    for _ in range(steps):
        case = flow.case(rng.choice(ids))
        choices = [a for a in actions_from(case.status) if a in WHO]
        if choices:
            _try(flow, rng, case, rng.choice(choices), ids)
    return ids


def _try(flow: Flow, rng, case, action: str, ids: list[int]) -> None:
    who = WHO[action]
    if who == "dept":
        who = HANDLERS.get(case.department_code or "", "hws")
    elif who == "officer":
        who = "officer2" if case.street_code == SHIWAN else "officer"
    request = {"note": "x"}
    if action == "handle":
        request["attachments"] = [flow.photo(who)]
    if action == "dispatch":
        request["department_code"] = rng.choice(sorted(HANDLERS))
    if action == "approve_extension":
        request["new_deadline"] = (case.deadline or datetime.now(TZ)) + timedelta(days=rng.choice([-30, 2]))
    if action == "merge":
        request["into_case_id"] = rng.choice(ids)
    try:
        flow.do(case.id, action, who, **request)
    except DomainError:
        pass


def bulk_import(conn, tmp_path) -> None:
    now = datetime.now(TZ).replace(microsecond=0)
    rows = [[f"B{i}", CATEGORIES[i % 5], PLACES[i % 5][0] + i * 1e-4, PLACES[i % 5][1],
             (now - timedelta(days=i % 9)).isoformat(), f"bulk {i}"] for i in range(12)]
    import_events(conn, path=write_csv(tmp_path / "bulk.csv", rows), mapping=MAPPING, policy=Policy(), by="test")
    conn.commit()


def set_clock(conn, rng) -> None:
    """Some held cases overdue, some due soon, some reported days ago (direct writes: the triggers still count)."""
    held = [r[0] for r in conn.execute("SELECT id FROM event_case WHERE status IN ('dispatched', 'accepted', "
                                       "'extension_requested') ORDER BY id").fetchall()]
    for case_id in held:
        hours = rng.choice([-50, -3, 1, 30])
        conn.execute("UPDATE event_case SET deadline = now() + make_interval(hours => %s), "
                     "yellow_at = now() + make_interval(hours => %s - 1) WHERE id = %s", (hours, hours, case_id))
    conn.execute("UPDATE event_case SET created_at = created_at - interval '3 days' WHERE id % 4 = 0")
    conn.commit()
    assert len(held) >= 4


# The plain recount: every case from event_case, matched in Python.
def all_cases(conn) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT *, ST_X(geom) AS lon, ST_Y(geom) AS lat, now() > deadline AS past FROM event_case").fetchall()


def matches(c: dict, f: MapFilter, scope: dict, since) -> bool:
    if scope["street"] and c["street_code"] != scope["street"] or scope["department"] and \
            c["department_code"] != scope["department"]:
        return False
    return not (f.major and c["category_code"][:2] != f.major or f.department and c["department_code"] != f.department
                or f.street and c["street_code"] != f.street or since and c["created_at"] < since
                or f.status == "open" and c["status"] in FINAL or f.status == "finished" and c["status"] not in FINAL
                or f.status == "overdue" and not overdue(c))


def overdue(c: dict) -> bool:
    return c["status"] in WITH_DEPARTMENT and bool(c["past"])


def recount_cells(cases, box: Box, zoom: int, f: MapFilter, scope: dict) -> dict:
    level = rollups.level_for(zoom)
    size, shift = 90.0 / 2 ** level, level - zoom
    x0, x1, y0, y1 = (math.floor(v / size) for v in (box.west, box.east, box.south, box.north))
    out: dict = {}
    for c in cases:
        cx, cy = math.floor(c["lon"] / size), math.floor(c["lat"] / size)
        if x0 <= cx <= x1 and y0 <= cy <= y1 and matches(c, f, scope, f.since(TZ)):
            cell = out.setdefault((cx >> shift, cy >> shift), [0, 0, 0, 0.0, 0.0])
            cell[0] += 1
            cell[1] += c["status"] not in FINAL
            cell[2] += overdue(c)
            cell[3] += c["lon"]
            cell[4] += c["lat"]
    return out


def check_map(conn, cases, box, zoom, f, scope, *, limit=5) -> str:
    got = view(conn, box=box, zoom=zoom, filters=f, scope=scope, me="nobody", limit=limit, tz=TZ)
    want = recount_cells(cases, box, zoom, f, scope)
    if got["mode"] == "points":
        in_box = {c["id"] for c in cases if box.west <= c["lon"] <= box.east and box.south <= c["lat"] <= box.north
                  and matches(c, f, scope, f.since(TZ))}
        assert sum(v[0] for v in want.values()) <= limit and {r["id"] for r in got["cases"]} == in_box
        return "points"
    size = cell_size(zoom)
    cells = {(round(c["west"] // size), round(c["south"] // size)): c for c in got["cells"]}
    assert set(cells) == set(want), (zoom, f, scope)
    for key, (n, open_, late, sx, sy) in want.items():
        c = cells[key]
        assert (c["count"], c["open"], c["overdue"]) == (n, open_, late), (zoom, f, scope, key)
        assert abs(c["lon"] - sx / n) < 1e-6 and abs(c["lat"] - sy / n) < 1e-6
    return "cells"


def check_grid_load(conn, cases, scope) -> None:
    want: dict = {}
    for c in cases:
        if c["status"] not in FINAL and matches(c, MapFilter(), scope, None):
            v = want.setdefault(c["grid_code"], [0, 0])
            v[0] += 1
            v[1] += overdue(c)
    assert {k: list(v) for k, v in rollups.grid_load(conn, **scope).items()} == want


def check_dashboard(conn, cases, scope) -> None:
    got = dashboard(conn, tz=TZ, scope=scope)
    mine = [c for c in cases if matches(c, MapFilter(), scope, None)]
    today = datetime.now(TZ).date()
    start = datetime.combine(today, datetime.min.time(), TZ)

    def since(key):
        return sum(1 for c in mine if c[key] is not None and c[key] >= start)
    assert got["today"] == {"reported": since("created_at"), "dispatched": since("dispatched_at"),
                            "closed": since("closed_at"), "open": sum(c["status"] not in FINAL for c in mine),
                            "overdue": sum(overdue(c) for c in mine)}
    for day in got["trend"]:
        d = datetime.fromisoformat(day["day"]).date()
        assert day["reported"] == sum(c["created_at"].astimezone(TZ).date() == d for c in mine)
        assert day["closed"] == sum(c["closed_at"] is not None and c["closed_at"].astimezone(TZ).date() == d
                                    for c in mine)
    late = sorted((c for c in mine if overdue(c)), key=lambda c: (c["deadline"], c["id"]))[:10]
    assert [r["deadline"] for r in got["top_overdue"]] == [c["deadline"] for c in late]


def tenures_and_days(conn) -> tuple:
    tenures = conn.execute("SELECT * FROM case_tenure ORDER BY case_id, tenure").fetchall()
    days = conn.execute("SELECT dim, code, name, day, action, sum(n) FROM (SELECT * FROM history_day UNION ALL "
                        "SELECT * FROM history_day_delta) d GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 "
                        "ORDER BY 1, 2, 3, 4, 5").fetchall()
    return tenures, days


def check_evaluation(conn) -> None:
    """The regions' intake figures from history_day equal those counted from the history steps one by one."""
    period = datetime.now(TZ).strftime("%Y-%m")
    for by in ("street", "grid", "district"):
        got = evaluate(conn, period=period, by=by, policy=Policy())
        conn.execute("UPDATE rollup_zone SET tz = 'UTC'")  # not the deployment's zone: the steps are counted
        want = evaluate(conn, period=period, by=by, policy=Policy())
        conn.rollback()
        assert [(r.code, r.current, r.previous) for r in got.rows] == \
            [(r.code, r.current, r.previous) for r in want.rows]
        assert sum(r.current["reported"] for r in got.rows) > 0


def check_everything(conn) -> set:
    cases = all_cases(conn)
    modes = set()
    scopes = [FULL, {**FULL, "street": ZUMIAO}, {**FULL, "department": "S-012-HWS"}]
    filters = [MapFilter(), MapFilter(major="01"), MapFilter(status="open"), MapFilter(status="overdue"),
               MapFilter(status="finished"), MapFilter(period=1), MapFilter(department="S-012-HWS"),
               MapFilter(street=ZUMIAO, status="overdue"), MapFilter(period=7, status="overdue")]
    for zoom in (10, 11, 12, 14, 16, 17):  # 10: cells made of 2 × 2 lattice cells of level 11
        for scope in scopes:
            for f in filters:
                modes.add(check_map(conn, cases, DISTRICT, zoom, f, scope))
    modes.add(check_map(conn, cases, Box(113.11, 23.01, 113.13, 23.03), 16, MapFilter(), FULL, limit=1000))
    for scope in scopes:
        check_grid_load(conn, cases, scope)
        check_dashboard(conn, cases, scope)
    conn.rollback()
    check_evaluation(conn)
    return modes


def test_rollups_equal_a_recount_after_random_work_imports_and_a_new_release(conn, tmp_path):
    rng = random.Random(10)
    flow = Flow(conn)
    random_history(flow, rng, reports=30, steps=160)
    assert conn.execute("SELECT count(*) FROM case_cell_delta").fetchone()[0] > 0  # small changes leave deltas
    set_clock(conn, rng)
    assert check_everything(conn) == {"cells", "points"}
    rollups.compact(conn)
    conn.commit()
    assert conn.execute("SELECT count(*) FROM case_cell_delta").fetchone()[0] == 0
    bulk_import(conn, tmp_path)  # a bulk import skips ordinary triggers (session_replication_role): not these
    create_release(conn, name="redrawn", activate=True)
    conn.commit()
    random_history(flow, rng, reports=10, steps=80)
    set_clock(conn, rng)
    statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM event_case").fetchall()}
    assert {"closed", "merged", "accepted", "dispatched"} <= statuses, sorted(statuses)
    assert conn.execute("SELECT count(*) FROM case_history WHERE action = 'reopen'").fetchone()[0] > 0
    assert check_everything(conn) == {"cells", "points"}
    kept = tenures_and_days(conn)
    assert kept[0] and any(t[4] for t in kept[0]) and any(t[8] for t in kept[0])  # some returned, some handled
    conn.execute("SELECT rollup_refresh()")  # the one-call recount agrees with what the triggers kept
    assert tenures_and_days(conn) == kept
    assert check_everything(conn) == {"cells", "points"}


def test_a_case_whose_deadline_passes_turns_overdue_without_a_write(conn):
    flow = Flow(conn)
    case_id = flow.report().case_id
    conn.execute("UPDATE event_case SET deadline = now() + interval '1 second' WHERE id = %s", (case_id,))
    conn.commit()
    grid = flow.case(case_id).grid_code
    assert rollups.grid_load(conn, **FULL)[grid] == (1, 0)
    assert dashboard(conn, tz=TZ, scope=FULL)["today"]["overdue"] == 0
    conn.rollback()
    while not conn.execute("SELECT now() > deadline FROM event_case WHERE id = %s", (case_id,)).fetchone()[0]:
        conn.rollback()
        time.sleep(0.2)
    conn.rollback()
    assert rollups.grid_load(conn, **FULL)[grid] == (1, 1)
    assert dashboard(conn, tz=TZ, scope=FULL)["today"]["overdue"] == 1
    cells = view(conn, box=DISTRICT, zoom=12, filters=MapFilter(status="overdue"), scope=FULL, me="", limit=0, tz=TZ)
    assert cells["mode"] == "cells" and cells["total"] == 1
    # nothing was written for it: the reads' transaction has not even taken a transaction id
    assert conn.execute("SELECT pg_current_xact_id_if_assigned()").fetchone()[0] is None


@pytest.mark.parametrize("zoom, period", [(11, None), (14, None), (16, None), (12, 7)])
def test_the_rollup_reads_keep_their_plan_when_prepared(conn, zoom, period):
    """Under plan_cache_mode = force_generic_plan the lattice is read through its key and the held cases not yet
    due through their partial index: no scan of the table or of the GiST index."""
    Flow(conn).report()
    conn.commit()
    since = MapFilter(period=period).since(TZ)
    params = {"west": DISTRICT.west, "south": DISTRICT.south, "east": DISTRICT.east, "north": DISTRICT.north,
              "major": None, "f_department": None, "f_street": None, "since": since, **FULL}
    query, args = rollups.cells_query(params=params, level=rollups.level_for(zoom), zoom=zoom, dim="a", val="",
                                      since_day=since.date() if since else None)
    plan = "\n".join(rollups.generic_plan(conn, query, args))
    assert "case_cell_pkey" in plan and "event_case_held_due_idx" in plan, plan
    assert "Seq Scan on event_case" not in plan and "event_case_geom_idx" not in plan, plan
