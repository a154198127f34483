"""`citygrid events import`: files of reports and history, checked, located and routed set-wise, COPYed.

Everything runs against real PostGIS; what the import writes is compared with what the live code (the SQL
locator, the router, the scalar working-time clock, the evaluation) says about the same cases.
"""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import psycopg
import pytest
from psycopg.rows import dict_row
from shapely.geometry import Point, box
from typer.testing import CliRunner

from citygrid.cli import app
from dispatch.casework.deadlines import due, load_calendar
from dispatch.exchange.bulk_import import BulkFileError, BulkRefused, Mapping, import_events, load_aliases
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from dispatch.reporting.evaluation import evaluate
from dispatch.routing.departments import import_departments
from dispatch.routing.router import decide
from dispatch.routing.rules import import_rules
from events.service import import_categories
from gis.crs import wgs84_to_gcj02
from gis.locator import locate
from gis.service import create_release, import_zone_layer
from tests import cityfactory as city
from tests.people import actor
from tests.test_grid_import import load_city

TZ = ZoneInfo("Asia/Shanghai")
HEADER = ["id", "type", "x", "y", "time", "text"]
NOW = datetime.now(TZ).replace(microsecond=0)


def write_csv(path: Path, rows: list[list], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


MAPPING = Mapping({"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
                   "description": "text"}, source="hotline")


def counts(conn) -> tuple:
    return conn.execute("SELECT (SELECT count(*) FROM event_case), (SELECT count(*) FROM report), "
                        "(SELECT count(*) FROM case_history), (SELECT count(*) FROM routing_decision)").fetchone()


def cases(conn) -> dict[str, dict]:
    rows = conn.cursor(row_factory=dict_row).execute(
        "SELECT *, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM event_case WHERE external_id IS NOT NULL").fetchall()
    return {r["external_id"]: r for r in rows}


def test_reports_are_located_routed_and_given_deadlines_as_live_intake_would(chancheng_url, tmp_path):
    x, y = wgs84_to_gcj02(113.1187, 23.0300)
    rows = [
        ["A1", "0102", 113.12, 23.02, (NOW - timedelta(hours=2)).isoformat(), "路口垃圾"],
        ["A2", "0201", 113.1187, 23.0300, (NOW - timedelta(days=1)).isoformat(), "小广告"],
        ["A3", "0110", 113.1180, 22.9870, (NOW - timedelta(days=2)).strftime("%Y-%m-%d %H:%M"), "道路破损"],
        ["A4", "0102", 113.05, 23.00, NOW.isoformat(), "<script>x</script>"],
        ["A5", "0601", 113.11, 23.01, NOW.isoformat(), "纠纷"],
    ]
    path = write_csv(tmp_path / "reports.csv", rows)
    with psycopg.connect(chancheng_url) as conn:
        result = import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test")
        conn.commit()
        assert (result.imported, result.reports, result.history, result.already, result.skipped) == (5, 5, 0, 0, [])
        got = cases(conn)
        calendar = load_calendar(conn)
        for sid, case in got.items():
            live = locate(conn, lon=case["lon"], lat=case["lat"])
            assert (case["grid_code"], case["street_code"], case["community_code"]) == (
                live.grid.code, live.street.code, live.community.code), sid
            routed = decide(conn, case=case)
            assert case["department_code"] == routed.department_code, sid
            assert case["status"] == ("dispatched" if routed.department_code else "registered"), sid
            assert case["source"] == "hotline" and not case["imported"]
            if case["department_code"]:
                d = due(calendar, start=case["dispatched_at"], limit=case["time_limit"], policy=Policy())
                assert (case["deadline"], case["yellow_at"], case["clock_start"]) == (d.due, d.yellow_at, d.start)
        assert got["A1"]["department_code"] == "S-012-HWS" and result.dispatched == 5
        assert got["A3"]["created_at"] == datetime.fromisoformat(rows[2][4]).replace(tzinfo=TZ)  # naive = local
        assert got["A4"]["description"] == "<script>x</script>"
        steps = conn.execute("SELECT c.external_id, string_agg(h.action, ',' ORDER BY h.id) FROM case_history h "
                             "JOIN event_case c ON c.id = h.case_id GROUP BY 1 ORDER BY 1").fetchall()
        assert dict(steps) == {f"A{i}": "report,register,dispatch" for i in range(1, 6)}
        decisions = conn.execute("SELECT c.external_id, d.department_code, d.explanation FROM routing_decision d "
                                 "JOIN event_case c ON c.id = d.case_id ORDER BY 1").fetchall()
        assert [d[0] for d in decisions] == ["A1", "A2", "A3", "A4", "A5"]
        assert decisions[0][1] == "S-012-HWS" and "rule" in decisions[0][2]
        inputs = conn.execute("SELECT c.grid_code, d.inputs->>'grid_code', c.category_code, d.inputs->>'category' "
                              "FROM routing_decision d JOIN event_case c ON c.id = d.case_id").fetchall()
        assert all(a == b and c == d for a, b, c, d in inputs)  # each decision records its own case's facts
        inbox = conn.execute("SELECT payload->>'subject' FROM outbox ORDER BY id").fetchall()
        assert any("imported report(s) dispatched to you" in s for (s,) in inbox)
        # the same file again: nothing new
        before = counts(conn)
        again = import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test")
        conn.commit()
        assert (again.imported, again.already) == (0, 5) and counts(conn) == before


def test_bad_rows_are_reported_and_skipped_and_all_or_nothing_refuses_the_file(chancheng_url, tmp_path):
    rows = [
        ["B1", "0102", 113.12, 23.02, NOW.isoformat(), "ok"],
        ["B2", "9999", 113.12, 23.02, NOW.isoformat(), "unknown category"],
        ["B3", "0102", 116.40, 39.90, NOW.isoformat(), "Beijing"],
        ["B4", "0102", "", 23.02, NOW.isoformat(), "no lon"],
        ["B5", "0102", 113.12, 23.02, "yesterday", "bad time"],
        ["B1", "0102", 113.12, 23.02, NOW.isoformat(), "repeated id"],
        ["", "0102", 113.12, 23.02, NOW.isoformat(), "no id"],
        ["B8", "0102", 113.12, 23.02, (NOW + timedelta(days=3)).isoformat(), "future"],
        ["B9", "0102", 113.12, 23.02, NOW.isoformat(), "长" * 4001],
        ["B10", "0201", 113.1187, 23.0300, NOW.isoformat(), "ok too"],
    ]
    path = write_csv(tmp_path / "mixed.csv", rows)
    with psycopg.connect(chancheng_url) as conn:
        before = counts(conn)
        with pytest.raises(BulkRefused, match="8 bad row"):
            import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test", all_or_nothing=True)
        conn.rollback()
        assert counts(conn) == before
        result = import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test")
        conn.commit()
    assert result.imported == 2 and sorted(cases_in(chancheng_url)) == ["B1", "B10"]
    reasons = dict(result.skipped)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]  # CSV line numbers (the header is line 1)
    assert "unknown category 9999" in reasons[3]
    assert "outside the district" in reasons[4] and "116.400000" in reasons[4]
    assert "lon/lat missing" in reasons[5]
    assert "not an ISO 8601 time" in reasons[6]
    assert "repeats row 2" in reasons[7]
    assert "source id is empty" in reasons[8]
    assert "in the future" in reasons[9]
    assert "description longer than 4000" in reasons[10]


def cases_in(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT external_id FROM event_case WHERE external_id IS NOT NULL")]


def test_history_rows_keep_their_times_and_outcomes_and_count_in_the_evaluation(chancheng_url, tmp_path):
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=TZ)  # a Monday
    header = ["id", "type", "x", "y", "time", "text", "status", "closed", "dept"]
    rows = [
        ["H1", "0102", 113.12, 23.02, t0.isoformat(), "closed on time", "closed", (t0 + timedelta(hours=2)).isoformat(),
         "S-012-HWS"],
        ["H2", "0102", 113.121, 23.021, t0.isoformat(), "closed late", "closed",
         (t0 + timedelta(days=3)).isoformat(), "S-012-HWS"],
        ["H3", "0102", 113.122, 23.022, t0.isoformat(), "still open", "accepted", "", "S-012-HWS"],
        ["H4", "0201", 113.1187, 23.0300, t0.isoformat(), "rejected", "rejected", "", ""],
        ["H5", "0102", 113.12, 23.02, t0.isoformat(), "no department", "closed", t0.isoformat(), ""],
        ["H6", "0102", 113.12, 23.02, t0.isoformat(), "closed before reported", "closed",
         (t0 - timedelta(hours=1)).isoformat(), "S-012-HWS"],
        ["H7", "0102", 113.12, 23.02, t0.isoformat(), "unknown dept", "closed", t0.isoformat(), "NOPE"],
        ["H8", "0102", 113.12, 23.02, t0.isoformat(), "bad status", "finished", t0.isoformat(), "S-012-HWS"],
    ]
    path = write_csv(tmp_path / "history.csv", rows, header)
    mapping = Mapping({"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
                       "description": "text", "closed_at": "closed", "department": "dept"}, source="old-platform")
    with psycopg.connect(chancheng_url) as conn:
        result = import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test")
        conn.commit()
        assert (result.imported, result.history) == (4, 4)
        reasons = dict(result.skipped)
        assert "needs the department" in reasons[6] and "before reported_at" in reasons[7]
        assert "unknown department NOPE" in reasons[8] and "is not one of" in reasons[9]
        got = cases(conn)
        assert got["H1"]["status"] == "closed" and got["H1"]["closed_at"] == t0 + timedelta(hours=2)
        assert got["H1"]["imported"] and got["H1"]["created_at"] == t0 and got["H1"]["dispatched_at"] == t0
        assert got["H3"]["status"] == "accepted" and got["H3"]["closed_at"] is None
        assert got["H4"]["status"] == "rejected" and got["H4"]["department_code"] is None
        steps = dict(conn.execute("SELECT c.external_id, string_agg(h.action, ',' ORDER BY h.id) FROM case_history h "
                                  "JOIN event_case c ON c.id = h.case_id GROUP BY 1").fetchall())
        assert steps["H1"] == "report,register,dispatch,accept,handle,check_ok,close"
        assert steps["H4"] == "report,reject"
        # the workflow table allows every step as written
        bad = conn.execute("""SELECT count(*) FROM case_history h WHERE h.from_status IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM workflow_transition w WHERE w.from_status = h.from_status AND w.to_status = h.to_status)
            """).fetchone()[0]
        assert bad == 0
        figures = evaluate(conn, period="2026-10", by="department", policy=Policy())
        hws = next(r for r in figures.rows if r.code == "S-012-HWS").current
        assert (hws["due"], hws["handled"], hws["closed"]) == (3, 2, 2)
        assert hws["on_time"] == 1  # H1 within 4 working hours, H2 three days later


def test_geojson_in_a_projected_crs_gcj02_rows_and_foreign_categories(chancheng_url, tmp_path):
    from pyproj import Transformer

    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)  # CGCS2000 3° Gauss-Krüger, 114°E
    x, y = to_gk.transform(113.12, 23.02)
    frame = gpd.GeoDataFrame({"工单号": ["G1", "G2"], "类型": ["LJ", "ZAW"], "上报时间": [NOW.isoformat()] * 2},
                             geometry=[Point(x, y), Point(x + 50, y + 50)], crs="EPSG:4547")
    path = tmp_path / "hotline.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    aliases = write_csv(tmp_path / "aliases.csv", [["LJ", "0102", "垃圾"], ["ZAW", "0507", "杂物"]],
                        ["foreign_code", "category", "foreign_name"])
    mapping = Mapping({"source_id": "工单号", "category": "类型", "reported_at": "上报时间"}, source="12345")
    gx, gy = wgs84_to_gcj02(113.12, 23.02)
    gcj = write_csv(tmp_path / "gcj.csv", [["J1", "LJ", float(gx), float(gy), NOW.isoformat(), "gcj02"]],
                    ["id", "type", "x", "y", "time", "crs"])
    with psycopg.connect(chancheng_url) as conn:
        assert load_aliases(conn, path=aliases, source="12345") == 2
        result = import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test")
        second = import_events(conn, path=gcj, mapping=Mapping({"source_id": "id", "category": "type", "lon": "x",
                                                                 "lat": "y", "reported_at": "time"}, source="12345"),
                               policy=Policy(), by="test")
        conn.commit()
        assert (result.imported, second.imported) == (2, 1), (result.skipped, second.skipped)
        got = cases(conn)
        assert abs(got["G1"]["lon"] - 113.12) < 1e-6 and abs(got["G1"]["lat"] - 23.02) < 1e-6
        assert got["G1"]["category_code"] == "0102" and got["G2"]["category_code"] == "0507"
        assert abs(got["J1"]["lon"] - 113.12) < 1e-6 and abs(got["J1"]["lat"] - 23.02) < 1e-6
        crs = dict(conn.execute("SELECT c.external_id, r.input_crs FROM report r JOIN event_case c ON c.id = "
                                "r.case_id").fetchall())
        assert crs == {"G1": "EPSG:4547", "G2": "EPSG:4547", "J1": "gcj02"}


def test_a_broken_file_or_mapping_is_one_clear_error_and_changes_nothing(chancheng_url, tmp_path):
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"this is not a geopackage")
    no_column = write_csv(tmp_path / "cols.csv", [["C1", "0102", 113.12, 23.02, NOW.isoformat(), ""]])
    with psycopg.connect(chancheng_url) as conn:
        before = counts(conn)
        with pytest.raises(BulkFileError, match="cannot read"):
            import_events(conn, path=broken, mapping=MAPPING, policy=Policy(), by="test")
        with pytest.raises(BulkFileError, match="has no column 'wann'"):
            import_events(conn, path=no_column, mapping=Mapping({**MAPPING.columns, "reported_at": "wann"}),
                          policy=Policy(), by="test")
        with pytest.raises(BulkFileError, match="use a .csv"):
            import_events(conn, path=tmp_path / "x.xls", mapping=MAPPING, policy=Policy(), by="test")
        conn.rollback()
        assert counts(conn) == before


def test_the_cli_shows_progress_and_skipped_rows(chancheng_url, tmp_path):
    path = write_csv(tmp_path / "cli.csv", [["K1", "0102", 113.12, 23.02, NOW.isoformat(), "ok"],
                                            ["K2", "0102", 116.4, 39.9, NOW.isoformat(), "out"]])
    args = ["events", "import", str(path), "--source", "cli-test", "--map", "source_id=id", "--map", "category=type",
            "--map", "lon=x", "--map", "lat=y", "--map", "reported_at=time", "--map", "description=text"]
    done = CliRunner().invoke(app, args, env={"DATABASE_URL": chancheng_url})
    assert done.exit_code == 0, done.output
    assert "skipped row 3: the point" in done.output and "imported 1" in done.output and "1 skipped" in done.output
    assert "cases" in done.output and "locate" in done.output  # the progress stages
    # every stage counts the file's rows as its chunks pass (the file is streamed: history rows are not known ahead)
    assert "history    ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 2/2" in done.output
    refused = CliRunner().invoke(app, args + ["--all-or-nothing"], env={"DATABASE_URL": chancheng_url})
    assert refused.exit_code != 0 and "nothing was imported" in str(refused.exception)


# ---- a foreign city ---------------------------------------------------------------------------------------------

def test_a_foreign_city_in_a_projected_crs_routes_as_its_rules_say(bare_url, tmp_path):
    """Testhausen (UTM 33N): its own layers, categories, departments, a park zone and rules; 400 reports."""
    import numpy as np

    park = gpd.GeoDataFrame({"code": ["P1"], "name": ["Stadtpark"]},
                            geometry=[box(city.X0 + 700, city.Y0 + 200, city.X0 + 1400, city.Y0 + 700)], crs=city.CRS)
    (tmp_path / "cat.csv").write_text(
        "code,major_code,major_name,name,limit,urgent_limit,check_limit,duplicate_radius_m,public,local_extension,"
        "limit_source\n"
        "5101,51,Sauberkeit,Müll,8wh,2wh,4wh,30,true,true,test city\n"
        "5102,51,Sauberkeit,Graffiti,3wd,,1wd,30,true,true,test city\n"
        "5201,52,Straße,Schlagloch,2wd,4wh,1wd,50,true,true,test city\n"
        "5301,53,Sonstiges,Anderes,2wd,,1wd,30,true,true,test city\n", encoding="utf-8")
    (tmp_path / "dep.csv").write_text(
        "code,name,kind,unit_type,parent_code,street_code\n"
        "T-BAU,Bauamt,bureau,Bauamt,,\n"
        "T-PARK,Parkverwaltung,bureau,Parks,,\n"
        "T-W-REIN,Reinigung West,street,Reinigung,,910101001\n"
        "T-E-REIN,Reinigung Ost,street,Reinigung,,910101002\n", encoding="utf-8")
    (tmp_path / "rules.csv").write_text(
        "name,category,place_kind,place_code,zone_layer,zone_code,recipient_kind,department,unit_type,priority\n"
        "cleaning by street,51,,,,,street_unit,,Reinigung,0\n"
        "roads to the building office,52,,,,,department,T-BAU,,0\n"
        "everything in the park,,zone,,parks,,department,T-PARK,,0\n", encoding="utf-8")
    rng = np.random.default_rng(7)
    xs, ys = city.X0 + rng.uniform(5, 1995, 400), city.Y0 + rng.uniform(5, 995, 400)
    codes = rng.choice(["5101", "5102", "5201", "5301"], 400, p=[0.3, 0.3, 0.3, 0.1])
    frame = gpd.GeoDataFrame({"ref": [f"T{i}" for i in range(400)], "kind": codes,
                              "at": [(NOW - timedelta(hours=1)).isoformat()] * 400},
                             geometry=[Point(x, y) for x, y in zip(xs, ys)], crs=city.CRS)
    path = tmp_path / "reports.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    with psycopg.connect(bare_url) as conn:
        load_city(conn, tmp_path)
        create_release(conn, activate=True)
        import_zone_layer(conn, path=city.write(park, tmp_path, "parks"), layer="parks", code_field="code",
                          name_field="name")
        import_categories(conn, path=tmp_path / "cat.csv")
        import_departments(conn, path=tmp_path / "dep.csv")
        import_rules(conn, path=tmp_path / "rules.csv", by="test")
        result = import_events(conn, path=path, mapping=Mapping({"source_id": "ref", "category": "kind",
                                                                 "reported_at": "at"}, source="testhausen"),
                               policy=Policy(), by="test")
        conn.commit()
        got = cases(conn)
        inbox = [r[0] for r in conn.execute("SELECT payload->>'subject' FROM outbox ORDER BY id").fetchall()]
    unrouted = sum(1 for ref, kind, x, y in zip(frame["ref"], codes, xs, ys)
                   if kind == "5301" and not park.geometry[0].covers(Point(x, y)))
    assert result.imported == 400 and result.skipped == [] and result.unrouted == unrouted > 0
    assert f"{unrouted} imported report(s) fit no routing rule: dispatch them from the desk" in inbox
    in_park = park.geometry[0]
    for ref, kind, x, y in zip(frame["ref"], codes, xs, ys):
        if in_park.covers(Point(x, y)):
            expected = "T-PARK"  # the zone rule is the most specific place
        elif kind.startswith("51"):
            expected = "T-W-REIN" if x < city.X0 + 1000 else "T-E-REIN"
        elif kind == "5201":
            expected = "T-BAU"
        else:
            expected = None  # no rule: the dispatchers' queue
        assert got[ref]["department_code"] == expected, (ref, kind, x - city.X0, y - city.Y0)
        assert got[ref]["status"] == ("dispatched" if expected else "registered")
    assert {got[r]["department_code"] for r in got} == {"T-PARK", "T-W-REIN", "T-E-REIN", "T-BAU", None}
    assert json.loads(json.dumps(got["T0"]["zones"])) in ([], [{"layer": "parks", "code": "P1", "name": "Stadtpark"}])


def test_a_role_without_the_privilege_imports_with_every_check_in_place(chancheng_url, tmp_path):
    """Not a superuser: session_replication_role is refused, the foreign-key triggers run, the import works."""
    import uuid

    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    role = f"cg_importer_{uuid.uuid4().hex[:8]}"
    path = write_csv(tmp_path / "plain.csv", [["P1", "0102", 113.12, 23.02, NOW.isoformat(), "ok"]])
    with psycopg.connect(chancheng_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    listener = psycopg.connect(chancheng_url, autocommit=True)
    listener.execute("LISTEN case_changed")
    try:
        with psycopg.connect(make_conninfo(chancheng_url, user=role)) as conn:
            assert conninfo_to_dict(conn.info.dsn)["user"] == role
            result = import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test")
            conn.commit()
        assert result.imported == 1 and not result.per_row_checks_skipped
        assert list(listener.notifies(timeout=1)) == []  # the live feed stayed quiet (migration 0011)
        with psycopg.connect(chancheng_url) as conn:  # while a live report is announced as ever
            live = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                                 lat=23.02).case_id
        heard = [json.loads(n.payload)["id"] for n in listener.notifies(timeout=2, stop_after=1)]
        assert heard and set(heard) == {live}
        with psycopg.connect(chancheng_url) as conn:
            assert cases(conn)["P1"]["department_code"] == "S-012-HWS"
    finally:
        listener.close()
        with psycopg.connect(chancheng_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_history_from_a_file_is_what_rule_mining_reads(chancheng_url, tmp_path):
    """The dispatch steps the import writes name the handler that `rules suggest` mines."""
    from dispatch.routing import mining

    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=TZ)
    header = ["id", "type", "x", "y", "time", "status", "closed", "dept"]
    rows = [[f"M{i}", "0102", 113.12 + i * 1e-4, 23.02, t0.isoformat(), "closed",
             (t0 + timedelta(hours=1)).isoformat(), "S-012-HWS" if i % 3 else "S-012-CGZD"] for i in range(30)]
    rows.append(["M-open", "0102", 113.12, 23.02, t0.isoformat(), "", "", ""])  # a report: not history
    path = write_csv(tmp_path / "h.csv", rows, header)
    mapping = Mapping({"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
                       "closed_at": "closed", "department": "dept"}, source="old")
    with psycopg.connect(chancheng_url) as conn:
        import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test")
        conn.commit()
        history = mining.load_history(conn)
        expected = dict(conn.execute("SELECT id, department_code FROM event_case WHERE imported").fetchall())
    assert len(history.case_id) == 30
    assert {int(c): h for c, h in zip(history.case_id, history.handler)} == expected


def test_odd_rows_found_by_review_are_skipped_or_read_right(chancheng_url, tmp_path):
    """Each of these once crashed the whole import or stored the wrong thing."""
    header = ["id", "type", "x", "y", "time", "text", "status", "closed"]
    rows = [
        ["R1", "0102", 113.12, 23.02, "2026-11-20T09:00:00+08", "hour-only offset", "", ""],
        ["R2", "0102", 113.12, 23.02, "2026-11-20 09:00", "naive, beside zoned rows", "", ""],
        ["R3", "0102", 113.12, 23.02, "2026-11-20T01:00:00Z", "nul \x00 inside", "", ""],
        ["R4", "0102", 113.12, 23.02, "2026-10-08T09:00:00+08:00", "rejected before reported", "rejected",
         "2020-01-01T00:00:00+08:00"],
    ]
    path = write_csv(tmp_path / "odd.csv", rows, header)
    mapping = Mapping({"source_id": "id", "category": "type", "lon": "x", "lat": "y", "reported_at": "time",
                       "description": "text", "closed_at": "closed"}, source="odd")
    with psycopg.connect(chancheng_url) as conn:
        result = import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test")
        conn.commit()
        got = cases(conn)
    assert sorted(got) == ["R1", "R2"]
    assert got["R1"]["created_at"] == got["R2"]["created_at"] == datetime(2026, 11, 20, 9, tzinfo=TZ)
    reasons = dict(result.skipped)
    assert "description holds a NUL character" in reasons[4]
    assert "closed_at is before reported_at" in reasons[5]


def test_numeric_ids_and_times_of_a_vector_file_and_its_layers(chancheng_url, tmp_path):
    frame = gpd.GeoDataFrame({"ref": [1, 2, None, 123456789012345678], "kind": ["0102"] * 4,
                              "at": [NOW.isoformat(), NOW.isoformat(), NOW.isoformat(), None]},
                             geometry=[Point(113.12, 23.02)] * 4, crs="EPSG:4326")
    path = tmp_path / "two.gpkg"
    frame.to_file(path, layer="calls", driver="GPKG", engine="pyogrio")
    frame.iloc[:1].to_file(path, layer="other", driver="GPKG", engine="pyogrio")
    mapping = Mapping({"source_id": "ref", "category": "kind", "reported_at": "at"}, source="vec")
    with psycopg.connect(chancheng_url) as conn:
        with pytest.raises(BulkFileError, match="has 2 layers .*calls.*: name one with --layer"):
            import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test")
        result = import_events(conn, path=path, policy=Policy(), by="test",
                               mapping=Mapping(mapping.columns, source="vec", layer="calls"))
        conn.commit()
        assert sorted(cases(conn)) == ["1", "2"]  # not "1.0"
    reasons = dict(result.skipped)
    assert reasons[3] == "source id is empty"
    assert "too large to read exactly" in reasons[4]


def test_two_sessions_importing_the_same_rows_leave_one_copy_and_a_clear_error(chancheng_url, tmp_path):
    import threading
    import time

    path = write_csv(tmp_path / "same.csv", [[f"S{i}", "0102", 113.12, 23.02, NOW.isoformat(), ""]
                                             for i in range(50)])
    first = psycopg.connect(chancheng_url)
    import_events(first, path=path, mapping=MAPPING, policy=Policy(), by="first")  # not committed yet
    outcome = {}

    def second():
        with psycopg.connect(chancheng_url) as conn:
            try:
                outcome["result"] = import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="second")
            except BulkRefused as exc:
                outcome["error"] = str(exc)

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(1.5)  # the second import now waits on the first one's rows in the unique index
    first.commit()
    first.close()
    thread.join(30)
    assert "nothing was imported: run it again" in outcome.get("error", ""), outcome
    with psycopg.connect(chancheng_url) as conn:
        assert conn.execute("SELECT count(*) FROM event_case WHERE source = 'hotline'").fetchone()[0] == 50


# ---- files larger than memory: the same import, a few rows at a time ---------------------------------------------

CHUNKED_ROWS = [
    ["C1", "0102", 113.12, 23.02, NOW.isoformat(), "ok"],
    ["C2", "9999", 113.12, 23.02, NOW.isoformat(), "unknown category, its id repeated later"],
    ["C3", "0201", 113.1187, 23.0300, NOW.isoformat(), "ok"],
    ["C4", "0102", 116.40, 39.90, NOW.isoformat(), "Beijing"],
    ["C1", "0102", 113.12, 23.02, NOW.isoformat(), "repeats line 2, in the next chunk"],
    ["C5", "0102", 113.121, 23.021, NOW.isoformat(), "ok"],
    ["C2", "0102", 113.12, 23.02, NOW.isoformat(), "repeats line 3, whose row was bad"],
    ["C6", "0110", 113.1180, 22.9870, NOW.isoformat(), "ok"],
    ["C3", "0102", 113.12, 23.02, NOW.isoformat(), "repeats line 4, two chunks back"],
]


def _digest(conn) -> list[tuple]:
    return conn.execute("SELECT external_id, status, grid_code, department_code, category_code, description "
                        "FROM event_case ORDER BY external_id").fetchall()


@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_a_file_read_in_chunks_imports_as_it_does_whole(databases, chancheng_template, tmp_path, chunk_rows):
    from tests.conftest import url_for

    path = write_csv(tmp_path / "chunked.csv", CHUNKED_ROWS)
    results, digests = [], []
    for size in (10_000, chunk_rows):
        with psycopg.connect(url_for(databases.create(template=chancheng_template))) as conn:
            results.append(import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test",
                                         chunk_rows=size))
            conn.commit()
            digests.append((_digest(conn), counts(conn)))
    whole, chunked = results
    assert chunked.skipped == whole.skipped  # line numbers and reasons, across chunks
    assert dict(chunked.skipped) == {
        3: "unknown category 9999 (not a category code, nor mapped by --categories)",
        5: "the point (lon 116.400000, lat 39.900000 in WGS84) is outside the district",
        6: "source id C1 repeats row 2", 8: "source id C2 repeats row 3", 10: "source id C3 repeats row 4"}
    assert (chunked.rows, chunked.imported, chunked.dispatched) == (9, 4, whole.dispatched)
    assert digests[0] == digests[1] and len(digests[0][0]) == 4


def test_all_or_nothing_refuses_a_bad_row_in_a_later_chunk_and_leaves_nothing(chancheng_url, tmp_path):
    good = [[f"G{i}", "0102", 113.12, 23.02, NOW.isoformat(), "ok"] for i in range(7)]
    path = write_csv(tmp_path / "late.csv", good + [["G9", "9999", 113.12, 23.02, NOW.isoformat(), "bad"]] + good[:1])
    with psycopg.connect(chancheng_url) as conn:
        before = counts(conn)
        with pytest.raises(BulkRefused, match=r"2 bad row\(s\).*row 9: unknown category 9999.*row 10: source id G0"):
            import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test", all_or_nothing=True,
                          chunk_rows=2)
        assert counts(conn) == before  # the chunks written before the bad one are gone, in the same transaction
        conn.commit()
        assert counts(conn) == before


def test_a_file_broken_in_a_later_chunk_changes_nothing(chancheng_url, tmp_path):
    path = write_csv(tmp_path / "broken.csv", [[f"H{i}", "0102", 113.12, 23.02, NOW.isoformat(), "ok"]
                                               for i in range(6)])
    with path.open("a", encoding="utf-8") as f:
        f.write('H9,0102,113.12,23.02,2026-01-01T00:00:00+08:00,"never closed\n')
    with psycopg.connect(chancheng_url) as conn:
        before = counts(conn)
        with pytest.raises(BulkFileError, match="cannot read"):
            import_events(conn, path=path, mapping=MAPPING, policy=Policy(), by="test", chunk_rows=2)
        conn.commit()
        assert counts(conn) == before


def test_routing_is_decided_once_per_place_across_chunks(chancheng_url, tmp_path, monkeypatch):
    from dispatch.exchange import bulk_import

    calls = []
    real = bulk_import.choose
    monkeypatch.setattr(bulk_import, "choose", lambda *a: calls.append(a[1]) or real(*a))
    rows = [[f"R{i}", "0102", 113.12 + i * 1e-5, 23.02, NOW.isoformat(), "same grid"] for i in range(6)]
    with psycopg.connect(chancheng_url) as conn:
        result = import_events(conn, path=write_csv(tmp_path / "same.csv", rows), mapping=MAPPING, policy=Policy(),
                               by="test", chunk_rows=2)
        assert result.dispatched == 6
    assert len(calls) == 1


def test_a_geopackage_streams_by_feature_ranges_with_its_feature_numbers(chancheng_url, tmp_path):
    points = [Point(113.12, 23.02), Point(116.4, 39.9), Point(113.1187, 23.03), Point(113.121, 23.021),
              Point(116.4, 39.9)]
    frame = gpd.GeoDataFrame({"id": [f"P{i}" for i in range(5)], "type": "0102", "time": NOW.isoformat(),
                              "text": "gpkg"}, geometry=points, crs="EPSG:4326")
    path = tmp_path / "points.gpkg"
    frame.to_file(path, driver="GPKG")
    mapping = Mapping({"source_id": "id", "category": "type", "reported_at": "time", "description": "text"},
                      source="gpkg")
    with psycopg.connect(chancheng_url) as conn:
        result = import_events(conn, path=path, mapping=mapping, policy=Policy(), by="test", chunk_rows=2)
    assert result.imported == 3 and [r for r, _ in result.skipped] == [2, 5]


def test_the_cli_streams_with_chunk_rows_and_all_or_nothing_commits_nothing(chancheng_url, tmp_path):
    path = write_csv(tmp_path / "cli.csv", [["K1", "0102", 113.12, 23.02, NOW.isoformat(), "ok"],
                                            ["K2", "0102", 113.121, 23.021, NOW.isoformat(), "ok"],
                                            ["K1", "0102", 113.12, 23.02, NOW.isoformat(), "again"]])
    args = ["events", "import", str(path), "--source", "cli-test", "--chunk-rows", "1", "--map", "source_id=id",
            "--map", "category=type", "--map", "lon=x", "--map", "lat=y", "--map", "reported_at=time"]
    refused = CliRunner().invoke(app, args + ["--all-or-nothing"], env={"DATABASE_URL": chancheng_url})
    assert isinstance(refused.exception, BulkRefused)  # `citygrid` prints it (citygrid.cli.main)
    assert "row 4: source id K1 repeats row 2" in str(refused.exception)
    assert cases_in(chancheng_url) == []
    done = CliRunner().invoke(app, args, env={"DATABASE_URL": chancheng_url})
    assert done.exit_code == 0, done.output
    assert "skipped row 4: source id K1 repeats row 2" in done.output and "imported 2" in done.output
    assert sorted(cases_in(chancheng_url)) == ["K1", "K2"]


@pytest.mark.parametrize("size", [1, 2, 100])
def test_rows_with_more_fields_than_the_header_are_skipped_by_line_in_any_chunk(tmp_path, size):
    from dispatch.exchange.bulk_read import read_chunks

    good = "{n},0102,113.12,23.02,2026-10-01T09:00+08:00,ok"
    kinds = "BGGBBGB"  # a long first row (pandas would take its extra fields as an index), one mid-file, one last
    lines = [good.format(n=n) + (",x,y" if kind == "B" else "") for n, kind in enumerate(kinds)]
    path = tmp_path / "ragged.csv"
    path.write_text("source_id,category,lon,lat,reported_at,description\n" + "\n".join(lines) + "\n")
    rows = [(int(row), bad) for table in read_chunks(path, Mapping(), size=size)[1]
            for row, bad in zip(table["row"], table.get("ragged", [None] * len(table)))]
    assert [(row, "B" if isinstance(bad, str) else "G") for row, bad in rows] == \
        [(n + 2, kind) for n, kind in enumerate(kinds)]
    assert all("8 fields, the header 6" in bad for _, bad in rows if isinstance(bad, str))
