"""综合评价 on hand-built histories (imported), each figure computed by hand; then the three renderings."""
from __future__ import annotations

import csv
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import InvalidInput
from openpyxl import load_workbook

from citygrid.reporting import render_table, write_csv, write_xlsx
from dispatch.exchange.history_import import import_history
from dispatch.models import Policy
from dispatch.reporting.evaluation import evaluate, parse_period, previous_period

TZ = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
# (113.1050, 23.0420), named after 张槎路, lies inside 祖庙 on the shipped grids: 张槎 needs a point further west.
ZUMIAO, SHIWAN, ZHANGCHA = (113.1187, 23.0300), (113.1180, 22.9870), (113.0612, 23.0344)
A, B = "S-012-HWS", "S-012-CGZD"   # 祖庙 环卫所, 祖庙 城管中队


def at(text: str) -> str:
    return f"2026-{text}:00+08:00"


def local(text: str) -> datetime:
    return datetime.fromisoformat(at(text))


def step(when: str, action: str, actor: str = "someone", **extra) -> dict:
    return {"at": at(when), "action": action, "actor": actor, **extra}


def case(ext: str, steps: list[dict], *, point=ZUMIAO, reporter: str = "officer1") -> dict:
    return {"external_id": ext, "category": "0102", "lon": point[0], "lat": point[1], "source": "officer",
            "reporter": reporter, "steps": steps}


def opened(day: str, dept: str, deadline: str | None, reporter: str = "officer1") -> list[dict]:
    """Reported 09:00, registered 09:05, dispatched 09:10 on `day` (MM-DD)."""
    dispatch = step(f"{day}T09:10", "dispatch", "dispatcher1", department=dept)
    if deadline:
        dispatch["deadline"] = at(deadline)
    return [step(f"{day}T09:00", "report", reporter, role="grid_officer"),
            step(f"{day}T09:05", "register", reporter), dispatch]


def load(conn, tmp_path, cases: list[dict]) -> list[int]:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    result = import_history(conn, path=str(path), by="test")
    assert result.skipped == []
    return result.imported


# October (the previous month): A handles one case late; officer2 checks it on time (1wh after 10:00).
C0 = case("C0", opened("10-20", A, "10-20T17:00") + [
    step("10-20T09:30", "accept", "hws1"), step("10-21T10:00", "handle", "hws1", note="done"),
    step("10-21T10:30", "check_ok", "officer2"), step("10-21T11:00", "close", "leader1")])
# November. C1: A on time. Checked 11:30, check due 12:00: on time.
C1 = case("C1", opened("11-02", A, "11-02T17:00") + [
    step("11-02T09:30", "accept", "hws1"), step("11-02T11:00", "handle", "hws1", note="done"),
    step("11-02T11:30", "check_ok", "officer2"), step("11-02T12:00", "close", "leader1")])
# C2: B returns it, A gets it (dispatched twice, due once, for A); extended to 11-04 17:00, handled 16:00: on time
# only thanks to the extension. Check due 17:00, checked 16:30: on time.
C2 = case("C2", opened("11-03", B, "11-03T17:00") + [
    step("11-03T09:40", "return", "cgzd1", note="not ours"),
    step("11-03T10:00", "dispatch", "dispatcher1", department=A, deadline=at("11-03T17:00")),
    step("11-03T10:10", "accept", "hws1"), step("11-03T11:00", "request_extension", "hws1", note="truck"),
    step("11-03T11:10", "approve_extension", "leader1", deadline=at("11-04T17:00")),
    step("11-04T16:00", "handle", "hws1", note="done"), step("11-04T16:30", "check_ok", "officer2"),
    step("11-04T16:40", "close", "leader1")])
# C3: A on time at first, the check fails (checked 11:30, due 12:00: on time), rework due 15:00, handled 16:00:
# late. The second check at 17:20 is after its 17:00 limit: late.
C3 = case("C3", opened("11-05", A, "11-05T12:00") + [
    step("11-05T09:30", "accept", "hws1"), step("11-05T11:00", "handle", "hws1", note="done"),
    step("11-05T11:30", "check_fail", "officer2", note="still dirty", deadline=at("11-05T15:00")),
    step("11-05T16:00", "handle", "hws1", note="done again"), step("11-05T17:20", "check_ok", "officer2"),
    step("11-05T17:25", "close", "leader1")])
# C5: 石湾, reported by officer2, handled on time by 石湾 环卫所, checked late by officer3 (due 11:00).
C5 = case("C5", opened("11-10", "S-010-HWS", "11-10T17:00", reporter="officer2") + [
    step("11-10T09:30", "accept", "hws2"), step("11-10T10:00", "handle", "hws2", note="done"),
    step("11-10T11:30", "check_ok", "officer3"), step("11-10T11:40", "close", "leader1")], point=SHIWAN,
    reporter="officer2")
# C6: 张槎, officer1's report rejected.
C6 = case("C6", [step("11-12T09:00", "report", "officer1"),
                 step("11-12T09:30", "reject", "intake1", note="not a problem")], point=ZHANGCHA)
MONTHS = [C0, C1, C2, C3, C5, C6]


@pytest.fixture
def months(conn, tmp_path):
    load(conn, tmp_path, MONTHS)
    return conn


def by_code(evaluation) -> dict:
    return {row.code: row for row in evaluation.rows}


def test_department_figures(months):
    rows = by_code(evaluate(months, period="2026-11", by="department", policy=POLICY))
    a = rows[A].current
    assert (a["dispatched"], a["returned"], a["accurate_dispatch_rate"]) == (3, 0, 1.0)
    assert (a["due"], a["handled"], a["on_time"], a["reworked"], a["extended"]) == (3, 3, 2, 1, 1)
    assert a["handling_rate"] == 1.0 and a["on_time_rate"] == pytest.approx(2 / 3)
    assert a["rework_rate"] == pytest.approx(1 / 3) and a["extension_rate"] == pytest.approx(1 / 3)
    assert (a["due_to_close"], a["closed"], a["on_time_closed"], a["overdue_pending"]) == (3, 3, 2, 0)
    assert a["closure_rate"] == 1.0 and a["on_time_closure_rate"] == pytest.approx(2 / 3)
    # working hours: C1 09:10→11:00 = 1 5/6; C2 (A's dispatch) Tue 10:00→Wed 16:00 = 5.5 + 5.5; C3 09:10→16:00 = 4 5/6
    assert a["mean_handling_hours"] == pytest.approx((11 / 6 + 11 + 29 / 6) / 3)
    # 30·1 + 20·2/3 + 20·(1 − 1/3) + 20·(1 − 0) + 10·(1 − 1/3) = 83.33
    assert a["score"] == 83.3
    b = rows[B].current
    assert (b["dispatched"], b["returned"], b["accurate_dispatch_rate"], b["due"]) == (1, 1, 0.0, 0)
    assert b["handling_rate"] is None and b["score"] is None and b["mean_handling_hours"] is None
    shiwan = rows["S-010-HWS"].current
    assert (shiwan["due"], shiwan["on_time"], shiwan["score"]) == (1, 1, 100.0)
    assert shiwan["mean_handling_hours"] == pytest.approx(50 / 60)
    assert rows[A].name == "祖庙街道环卫所"


def test_month_on_month(months):
    evaluation = evaluate(months, period="2026-11", by="department", policy=POLICY)
    assert evaluation.previous_period == "2026-10"
    a = by_code(evaluation)[A]
    assert (a.previous["due"], a.previous["handled"], a.previous["on_time"]) == (1, 1, 0)
    assert a.previous["on_time_rate"] == 0.0 and a.previous["score"] == 80.0   # 30 + 0 + 20 + 20 + 10
    assert a.previous["mean_handling_hours"] == pytest.approx(17 / 6 + 3.5 + 1.5)  # Tue 09:10 → Wed 10:00
    assert a.change("on_time_rate") == pytest.approx(2 / 3)
    assert a.change("due") == 2 and a.change("score") == pytest.approx(3.3)
    assert by_code(evaluation)[B].previous["dispatched"] == 0 and by_code(evaluation)[B].change("score") is None
    october = by_code(evaluate(months, period="2026-10", by="department", policy=POLICY))
    assert october[A].current == a.previous and set(october) == {A}


def test_street_attribution(months):
    rows = by_code(evaluate(months, period="2026-11", by="street", policy=POLICY))
    assert set(rows) == {"440604012", "440604010", "440604011"}
    zumiao = rows["440604012"].current
    assert (zumiao["reported"], zumiao["registered"], zumiao["dispatched"], zumiao["returned"]) == (3, 3, 4, 1)
    assert zumiao["accurate_dispatch_rate"] == 0.75
    assert (zumiao["due"], zumiao["on_time"], zumiao["score"]) == (3, 2, 83.3)   # C2 is due once
    assert rows["440604012"].previous["reported"] == 1
    shiwan = rows["440604010"].current
    assert (shiwan["reported"], shiwan["due"], shiwan["score"]) == (1, 1, 100.0)
    zhangcha = rows["440604011"].current
    assert (zhangcha["reported"], zhangcha["registered"], zhangcha["due"]) == (1, 0, 0)
    assert zhangcha["handling_rate"] is None and zhangcha["accurate_dispatch_rate"] is None
    assert "祖庙" in rows["440604012"].name


def test_community_and_grid_follow_the_chain_stored_on_the_case(months):
    stored = months.execute("SELECT DISTINCT grid_code, community_code FROM event_case "
                            "WHERE created_at >= '2026-11-01+08'").fetchall()
    grids = by_code(evaluate(months, period="2026-11", by="grid", policy=POLICY))
    communities = by_code(evaluate(months, period="2026-11", by="community", policy=POLICY))
    assert set(grids) == {g for g, _ in stored} and set(communities) == {c for _, c in stored}
    assert sum(r.current["reported"] for r in grids.values()) == 5
    assert sum(r.current["due"] for r in communities.values()) == 4


def test_officers(months):
    evaluation = evaluate(months, period="2026-11", by="officer", policy=POLICY)
    rows = by_code(evaluation)
    one, two, three = rows["officer1"], rows["officer2"], rows["officer3"]
    assert (one.current["reports"], one.current["rejected"], one.current["error_rate"]) == (4, 1, 0.25)
    assert one.current["checks"] == 0 and one.current["on_time_check_rate"] is None
    assert one.previous["error_rate"] == 0.0 and one.change("error_rate") == 0.25
    assert (two.current["reports"], two.current["error_rate"]) == (1, 0.0)
    assert (two.current["checks"], two.current["on_time_checks"], two.current["on_time_check_rate"]) == (4, 3, 0.75)
    assert two.previous["on_time_check_rate"] == 1.0 and two.change("on_time_check_rate") == -0.25
    assert (three.current["reports"], three.current["error_rate"]) == (0, None)
    assert (three.current["checks"], three.current["on_time_checks"]) == (1, 0)
    assert set(rows) == {"officer1", "officer2", "officer3"}


def test_weekend_handling_time_counts_working_hours_only(conn, tmp_path):
    # Fri 2026-11-20 16:00 → Mon 11-23 10:00: 16:00–17:30 on Friday + 08:30–10:00 on Monday = 3.0 working hours
    load(conn, tmp_path, [case("W", opened("11-20", "D-CGZF", None)[:2] + [
        step("11-20T16:00", "dispatch", "dispatcher1", department="D-CGZF"),
        step("11-20T16:10", "accept", "zf1"), step("11-23T10:00", "handle", "zf1", note="done")])])
    row = by_code(evaluate(conn, period="2026-11", by="department", policy=POLICY))["D-CGZF"].current
    assert row["mean_handling_hours"] == pytest.approx(3.0)
    assert (row["due"], row["on_time"]) == (1, 1)    # 4wh from Fri 16:00 is due Mon 11:00


def test_due_in_the_period_of_its_deadline(conn, tmp_path):
    # dispatched Fri 10-30 16:00; 4wh → due Mon 11-02 11:00: dispatched in October, due in November
    load(conn, tmp_path, [case("D", [
        step("10-30T15:50", "report", "officer1"), step("10-30T15:55", "register", "officer1"),
        step("10-30T16:00", "dispatch", "dispatcher1", department="D-SZGL"),
        step("10-30T16:10", "accept", "sz1"), step("11-02T10:00", "handle", "sz1", note="done")])])
    november = by_code(evaluate(conn, period="2026-11", by="department", policy=POLICY))["D-SZGL"]
    assert (november.current["dispatched"], november.current["due"], november.current["on_time"]) == (0, 1, 1)
    assert (november.previous["dispatched"], november.previous["due"]) == (1, 0)


def test_overdue_pending_counts_as_of_now(conn, tmp_path):
    load(conn, tmp_path, [
        case("P1", opened("11-16", "D-SZGL", "11-16T17:00") + [step("11-16T09:30", "accept", "sz1")]),
        case("P2", opened("11-17", "D-SZGL", "11-17T17:00") + [
            step("11-17T09:30", "accept", "sz1"), step("11-17T10:00", "handle", "sz1", note="done")]),
    ])
    later = evaluate(conn, period="2026-11", by="department", policy=POLICY, now=local("12-01T09:00"))
    row = by_code(later)["D-SZGL"].current
    assert (row["due"], row["handled"], row["on_time"], row["overdue_pending"]) == (2, 1, 1, 1)
    assert row["score"] == 65.0   # 30·0.5 + 20·0.5 + 20·1 + 20·(1 − 0.5) + 10·1
    early = by_code(evaluate(conn, period="2026-11", by="department", policy=POLICY,
                             now=local("11-16T12:00")))["D-SZGL"].current
    # P1 is still in time: not yet due, so it does not count against the rates (it used to make the score 75.0)
    assert (early["dispatched"], early["due"], early["handled"], early["overdue_pending"]) == (2, 1, 1, 0)
    assert early["on_time_rate"] == 1.0 and early["score"] == 100.0


def test_a_department_with_nothing_due_yet_has_no_rates_and_no_score(conn, tmp_path):
    load(conn, tmp_path, [case("P1", opened("11-16", "D-SZGL", "11-16T17:00") + [step("11-16T09:30", "accept", "sz1")])])
    row = by_code(evaluate(conn, period="2026-11", by="department", policy=POLICY,
                           now=local("11-16T12:00")))["D-SZGL"].current
    assert (row["dispatched"], row["due"], row["overdue_pending"]) == (1, 0, 0)
    assert row["on_time_rate"] is None and row["handling_rate"] is None and row["score"] is None
    late = by_code(evaluate(conn, period="2026-11", by="department", policy=POLICY,
                            now=local("11-16T17:30")))["D-SZGL"].current  # its deadline passed: due, overdue
    assert (late["due"], late["overdue_pending"], late["on_time_rate"]) == (1, 1, 0.0)


def test_week_and_day_periods(months):
    week = by_code(evaluate(months, period="2026-W45", by="department", policy=POLICY))  # Mon 11-02 .. Sun 11-08
    assert week[A].current["due"] == 3 and week[A].previous["due"] == 0
    day = by_code(evaluate(months, period="2026-11-03", by="department", policy=POLICY))
    assert day[B].current["returned"] == 1 and day[A].current["due"] == 0 and day[A].previous["due"] == 1


@pytest.mark.parametrize("text, start, end, kind", [
    ("2026-11", "2026-11-01", "2026-12-01", "month"),
    ("2026-12", "2026-12-01", "2027-01-01", "month"),
    ("2026-W47", "2026-11-16", "2026-11-23", "week"),
    ("2026-w01", "2025-12-29", "2026-01-05", "week"),
    ("2026-11-26", "2026-11-26", "2026-11-27", "day"),
    ("2026", "2026-01-01", "2027-01-01", "year"),
])
def test_parse_period(text, start, end, kind):
    assert parse_period(text) == (datetime.fromisoformat(f"{start}T00:00+08:00"),
                                  datetime.fromisoformat(f"{end}T00:00+08:00"), kind)
    assert parse_period(text)[0].tzinfo == TZ


@pytest.mark.parametrize("text", ["2026-13", "2026-W54", "2026-11-31", "Nov 2026", "", "2026-11-2", None])
def test_parse_period_refuses(text):
    with pytest.raises(ValueError, match="period|real"):
        parse_period(text)


@pytest.mark.parametrize("text, before", [
    ("2026-11", "2026-10"), ("2026-01", "2025-12"), ("2026-W01", "2025-W52"), ("2021-W01", "2020-W53"),
    ("2026-03-01", "2026-02-28"), ("2026", "2025"),
])
def test_previous_period(text, before):
    assert previous_period(text) == before


def test_unknown_unit_or_period_is_refused(conn):
    with pytest.raises(InvalidInput, match="cannot evaluate by"):
        evaluate(conn, period="2026-11", by="planet", policy=POLICY)
    with pytest.raises(InvalidInput, match="cannot read the period '2026-13'"):  # not of the documented form
        evaluate(conn, period="2026-13", by="street", policy=POLICY)
    with pytest.raises(InvalidInput, match="not a real day"):
        evaluate(conn, period="2026-02-30", by="street", policy=POLICY)


def test_text_table(months):
    text = render_table(evaluate(months, period="2026-11", by="department", policy=POLICY))
    assert "处置率" in text and "handling rate" in text and "环比 against 2026-10" in text
    line = next(l for l in text.splitlines() if l.startswith(A))
    assert "66.7% (+66.7pp)" in line and "83.3 (+3.3)" in line
    b_line = next(l for l in text.splitlines() if l.startswith(B))
    assert "0.0%" in b_line and "–" in b_line
    short = render_table(evaluate(months, period="2026-11", by="officer", policy=POLICY), keys=["error_rate"])
    assert "差错率" in short and "25.0% (+25.0pp)" in short


def test_csv(months, tmp_path):
    path = tmp_path / "evaluation.csv"
    write_csv(evaluate(months, period="2026-11", by="street", policy=POLICY), path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    zumiao = next(r for r in rows if r["代码 code"] == "440604012")
    assert zumiao["期间 period"] == "2026-11" and zumiao["应处置数 due"] == "3"
    assert zumiao["按期处置率 on-time handling rate"] == "0.6667"
    assert zumiao["按期处置率 on-time handling rate 上期 previous (2026-10)"] == "0.0"
    assert zumiao["综合得分 score (of 100) 环比 change"] == "3.3"
    assert next(r for r in rows if r["代码 code"] == "440604011")["处置率 handling rate"] == ""


def test_xlsx(months, tmp_path):
    path = tmp_path / "evaluation.xlsx"
    write_xlsx(evaluate(months, period="2026-11", by="department", policy=POLICY), path)
    book = load_workbook(path)
    assert book.sheetnames == ["本期 2026-11", "上期 2026-10", "环比 change", "说明 notes"]
    current = book["本期 2026-11"]
    headers = {current.cell(1, i).value: i for i in range(1, current.max_column + 1)}
    assert current.cell(2, headers["按期处置率"]).value == "on-time handling rate"
    a_row = next(r for r in range(3, current.max_row + 1) if current.cell(r, 1).value == A)
    cell = current.cell(a_row, headers["按期处置率"])
    assert cell.value == pytest.approx(2 / 3) and cell.number_format == "0.0%"
    assert book["上期 2026-10"].cell(a_row, headers["综合得分"]).value == 80.0
    assert book["环比 change"].cell(a_row, headers["应处置数"]).value == 2
