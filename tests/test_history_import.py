"""The history import: good rows go in whole and marked imported, bad rows are skipped with a reason."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from psycopg.rows import dict_row

from core.errors import InvalidInput
from dispatch.exchange.history_import import HistoryFileError, import_history, read_history_file

TZ = ZoneInfo("Asia/Shanghai")
ZUMIAO = (113.1187, 23.0300)
SHIWAN = (113.1180, 22.9870)


def at(text: str) -> str:
    return f"2026-{text}:00+08:00"


def local(text: str) -> datetime:
    return datetime.fromisoformat(at(text)).astimezone(TZ)


def step(when: str, action: str, actor: str = "someone", role: str = "", **extra) -> dict:
    return {"at": at(when), "action": action, "actor": actor, "role": role, **extra}


def case(external_id: str, steps: list[dict], *, point=ZUMIAO, category: str = "0102", **extra) -> dict:
    return {"external_id": external_id, "category": category, "lon": point[0], "lat": point[1],
            "description": f"case {external_id}", "urgent": False, "source": "officer", "reporter": "officer1",
            "steps": steps, **extra}


def opened(day: str, dept: str = "S-012-HWS", deadline: str | None = None) -> list[dict]:
    """Report, register and dispatch on `day` (MM-DD) from 09:00."""
    dispatch = step(f"{day}T09:10", "dispatch", "dispatcher1", "dispatcher", department=dept)
    if deadline:
        dispatch["deadline"] = at(deadline)
    return [step(f"{day}T09:00", "report", "officer1", "grid_officer"),
            step(f"{day}T09:05", "register", "officer1", "grid_officer"), dispatch]


def write(tmp_path, rows, name="history.json") -> str:
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return str(path)


def fetch(conn, query: str, *params) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


# Dispatched Fri 2026-11-20 16:00, no deadline given: 4wh of 0102 = Fri 16:00–17:30 (1.5 h) + Mon 08:30–11:00.
WEEKEND = case("W-1", [
    step("11-20T15:50", "report", "officer1", "grid_officer"),
    step("11-20T15:55", "register", "officer1", "grid_officer"),
    step("11-20T16:00", "dispatch", "dispatcher1", "dispatcher", department="S-012-HWS"),
    step("11-20T16:20", "accept", "hws1", "handler"),
    step("11-23T10:00", "handle", "hws1", "handler", note="cleared"),
    step("11-23T10:30", "check_ok", "officer2", "grid_officer"),
    step("11-23T10:40", "close", "leader1", "shift_leader"),
])

# Sent to the wrong department, returned, sent on, extended, reworked, closed.
LOOPS = case("L-1", opened("11-03", "S-012-CGZD", "11-03T17:00") + [
    step("11-03T09:40", "return", "cgzd1", "handler", note="not ours: sanitation"),
    step("11-03T10:00", "dispatch", "dispatcher1", "dispatcher", department="S-012-HWS", deadline=at("11-03T17:00")),
    step("11-03T10:10", "accept", "hws1", "handler"),
    step("11-03T11:00", "request_extension", "hws1", "handler", note="needs a truck"),
    step("11-03T11:10", "approve_extension", "leader1", "shift_leader", deadline=at("11-04T17:00")),
    step("11-04T11:00", "handle", "hws1", "handler", note="cleared"),
    step("11-04T11:30", "check_fail", "officer2", "grid_officer", note="still dirty"),
    step("11-04T15:00", "handle", "hws1", "handler", note="cleared again"),
    step("11-04T15:30", "check_ok", "officer2", "grid_officer"),
], point=SHIWAN)


def test_good_row_goes_in_whole_with_derived_columns(conn, tmp_path):
    result = import_history(conn, path=write(tmp_path, [WEEKEND]), by="admin")
    assert result.skipped == [] and len(result.imported) == 1
    row = fetch(conn, "SELECT * FROM event_case WHERE id = %s", result.imported[0])[0]
    assert row["status"] == "closed" and row["imported"] is True
    assert (row["street_code"], row["department_code"], row["reporter"]) == ("440604012", "S-012-HWS", "officer1")
    assert row["created_at"] == local("11-20T15:50") and row["dispatched_at"] == local("11-20T16:00")
    assert row["deadline"] == local("11-23T11:00")          # 1.5 h on Friday + 2.5 h on Monday
    assert row["yellow_at"] == local("11-23T10:12")         # 80 % of 4 h = 3.2 h
    assert row["time_limit"] == "4wh" and row["clock_start"] == local("11-20T16:00")
    assert row["handled_at"] == local("11-23T10:00") and row["check_deadline"] == local("11-23T11:00")  # 1wh
    assert row["closed_at"] == local("11-23T10:40")
    assert (row["dispatch_count"], row["return_count"], row["rework_count"], row["extension_count"]) == (1, 0, 0, 0)
    history = fetch(conn, "SELECT * FROM case_history WHERE case_id = %s ORDER BY at, id", row["id"])
    assert [h["action"] for h in history] == ["report", "register", "dispatch", "accept", "handle", "check_ok",
                                              "close"]
    assert all(h["imported"] for h in history)
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "reported"), ("reported", "registered"), ("registered", "dispatched"), ("dispatched", "accepted"),
        ("accepted", "handled"), ("handled", "checked"), ("checked", "closed")]
    assert history[0]["detail"] == {"external_id": "W-1", "imported_by": "admin"}
    assert history[2]["deadline"] == local("11-23T11:00") and history[-1]["deadline"] is None
    report = fetch(conn, "SELECT * FROM report WHERE case_id = %s", row["id"])
    assert len(report) == 1 and report[0]["reported_at"] == local("11-20T15:50")
    assert report[0]["reporter"] == "officer1" and report[0]["input_crs"] == "EPSG:4326"


def test_loops_set_the_counters_and_return_rows_name_the_returner(conn, tmp_path):
    result = import_history(conn, path=write(tmp_path, [LOOPS]), by="admin")
    assert result.skipped == []
    row = fetch(conn, "SELECT * FROM event_case WHERE id = %s", result.imported[0])[0]
    assert (row["status"], row["street_code"], row["department_code"]) == ("checked", "440604010", "S-012-HWS")
    assert (row["dispatch_count"], row["return_count"], row["rework_count"], row["extension_count"]) == (2, 1, 1, 1)
    assert row["dispatched_at"] == local("11-03T10:00")
    assert row["handled_at"] == local("11-04T15:00") and row["closed_at"] is None
    # the rework restarted the clock: 4wh from Wed 11:30 → 12:00 (0.5 h) + 14:00–17:30 (3.5 h)
    assert row["deadline"] == local("11-04T17:30")
    history = fetch(conn, "SELECT * FROM case_history WHERE case_id = %s ORDER BY at, id", row["id"])
    back = next(h for h in history if h["action"] == "return")
    assert back["department_code"] == "S-012-CGZD" and back["deadline"] is None and back["note"]
    extension = next(h for h in history if h["action"] == "approve_extension")
    assert extension["deadline"] == local("11-04T17:00")
    handles = [h for h in history if h["action"] == "handle"]
    assert [h["deadline"] for h in handles] == [local("11-04T17:00"), local("11-04T17:30")]


BAD = [
    ("unknown category", case("B-1", opened("11-05"), category="9999"), "unknown category"),
    ("outside the district", case("B-2", opened("11-05"), point=(113.30, 23.13)), "outside"),
    ("accept before dispatch", case("B-3", opened("11-05")[:2] + [step("11-05T09:20", "accept", "hws1")]),
     "accept needs the case to be dispatched"),
    ("return without a reason", case("B-4", opened("11-05") + [step("11-05T09:20", "return", "hws1")]),
     "return needs a reason"),
    ("naive timestamp", case("B-5", [{"at": "2026-11-05T09:00:00", "action": "report", "actor": "officer1"}]),
     "has no time zone"),
    ("time going back", case("B-6", opened("11-05") + [step("11-05T08:00", "accept", "hws1")]), "earlier than"),
    ("unknown department", case("B-7", opened("11-05", "S-999-XXX")), "unknown department"),
    ("first step not a report", case("B-8", opened("11-05")[1:]), "must be \"report\""),
    ("unknown action", case("B-9", opened("11-05") + [step("11-05T09:20", "fly", "hws1")]), "unknown action"),
    ("not an object", ["a", "list"], "must be a JSON object"),
]


@pytest.mark.parametrize("name", [b[0] for b in BAD])
def test_each_bad_row_is_skipped_with_its_reason(conn, tmp_path, name):
    _, bad, reason = next(b for b in BAD if b[0] == name)
    result = import_history(conn, path=write(tmp_path, [WEEKEND, bad, LOOPS]), by="admin")
    assert len(result.imported) == 2
    assert [n for n, _ in result.skipped] == [2]
    assert reason in result.skipped[0][1]
    assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM case_history WHERE NOT imported").fetchone()[0] == 0


def test_all_bad_rows_at_once_leave_only_the_good_ones(conn, tmp_path):
    rows = [WEEKEND] + [b[1] for b in BAD] + [LOOPS]
    result = import_history(conn, path=write(tmp_path, rows, "history.jsonl"), by="admin")
    assert len(result.imported) == 2
    assert [n for n, _ in result.skipped] == list(range(2, 2 + len(BAD)))
    ids = {r[0] for r in conn.execute("SELECT id FROM event_case").fetchall()}
    assert ids == set(result.imported)


def test_the_same_external_id_is_not_imported_twice(conn, tmp_path):
    path = write(tmp_path, [WEEKEND])
    first = import_history(conn, path=path, by="admin")
    again = import_history(conn, path=path, by="admin")
    assert again.imported == [] and again.skipped == [(1, f"external_id 'W-1' was already imported as case "
                                                          f"{first.imported[0]}")]


def test_a_file_that_is_not_json_is_refused_and_nothing_is_written(conn, tmp_path):
    path = tmp_path / "history.json"
    path.write_text("external_id,category\nX,0102\n", encoding="utf-8")
    with pytest.raises(HistoryFileError, match="not valid JSON") as err:
        import_history(conn, path=str(path), by="admin")
    assert isinstance(err.value, InvalidInput)
    assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 0


@pytest.mark.parametrize("text, name, message", [
    ('{"external_id": "X"}', "history.json", "must be a list of cases"),
    ('{"external_id": "X"}\n{"external_id": ', "history.jsonl", "line 2 is not valid JSON"),
])
def test_file_shape_errors(tmp_path, text, name, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HistoryFileError, match=message):
        read_history_file(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(HistoryFileError, match="cannot read the history file"):
        read_history_file(tmp_path / "nope.json")


def test_the_callers_transaction_decides(conn, tmp_path):
    result = import_history(conn, path=write(tmp_path, [WEEKEND]), by="admin")
    assert result.imported
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 0


def test_json_lines_stream_and_a_broken_line_late_in_the_file_leaves_nothing(conn, tmp_path):
    path = write(tmp_path, [WEEKEND], name="history.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"external_id": "late", \n')
    with pytest.raises(HistoryFileError, match="line 2 is not valid JSON"):
        import_history(conn, path=path, by="admin")  # the first line went in before the second was read
    assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] == 0
    good = write(tmp_path, [WEEKEND], name="good.jsonl")
    assert len(import_history(conn, path=good, by="admin").imported) == 1
