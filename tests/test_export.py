"""Export of cases (dispatch/exchange/export.py, `citygrid events export`, GET /api/export and the dashboard's control):
every format read back, the map's filters, the reader's scope, formula injection, and bad input."""
from __future__ import annotations

import codecs
import csv
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import psycopg
import pyogrio
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from shapely.geometry import box
from typer.testing import CliRunner

from citygrid.app import build_app
from citygrid.cli import app as cli
from citygrid.settings import Settings
from core.errors import InvalidInput
from dispatch.actor import scope_filter
from dispatch.casework.cases import Request, act
from dispatch.exchange import export
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from dispatch.reporting.mapview import Box, MapFilter, view
from dispatch.routing.rules import import_rules
from gis.service import import_zone_layer
from tests.people import SHIWAN, ZUMIAO, actor, add_cast, bearer

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Shanghai")
# data/rules/chancheng_rules.csv: 01 in a park → 区园林 (a zone rule); 01 elsewhere → the street's 环卫所; 02 → 城管中队
PARK_RULE, LITTER_RULE, ADS_RULE = "公园内市容环境归区园林", "市容环境归属地环卫所", "宣传广告归属地城管中队"
NEW_ADS_RULE = "广告归区城管执法局"  # a later rule set (reroute)
EVIL = '=HYPERLINK("http://evil.example/","点我")'

# name → (who reports, category, lon, lat, description)
REPORTS = {
    "park": ("officer", "0102", 113.12, 23.02, EVIL),                   # 祖庙, in the park, → D-YL; overdue
    "ads": ("officer", "0201", 113.1187, 23.0300, "+广告 ads\x07"),       # 祖庙 → S-012-CGZD, returned → D-CGZF
    "shiwan": ("officer2", "0102", 113.1180, 22.9870, "石湾 litter"),     # 石湾 → S-010-HWS
    "rejected": ("officer", "0201", 113.1180, 22.9870, "\t石湾 not mine"),  # waits for intake, then rejected
    "old": ("officer", "0102", 113.121, 23.021, "@ten days ago"),        # 祖庙 → S-012-HWS, reported 10 days ago
}


def report(conn, name: str) -> int:
    who, category, lon, lat, text = REPORTS[name]
    return submit_report(conn, actor=actor(who), policy=Policy(), category_code=category, lon=lon, lat=lat,
                         description=text).case_id


def reroute(conn, case_id: int, tmp_path) -> None:
    """Returned by 城管中队, then routed again by a new rule set: the case gets a second, later decision."""
    act(conn, case_id=case_id, action="return", actor=actor("cgzd"), policy=Policy(), request=Request(note="不归我们"))
    rules = tmp_path / "rules.csv"
    rules.write_text("name,category,place_kind,place_code,zone_layer,zone_code,recipient_kind,department,unit_type,"
                     f"priority\n{NEW_ADS_RULE},02,,,,,department,D-CGZF,,0\n", encoding="utf-8")
    import_rules(conn, path=rules, by="test")
    act(conn, case_id=case_id, action="dispatch", actor=actor("dispatcher"), policy=Policy())


@pytest.fixture
def world(chancheng_url, tmp_path):
    """Five cases made by the real intake: one in a park zone, one overdue, one rejected, one ten days old, one
    routed twice."""
    park = gpd.GeoDataFrame({"code": ["P1"], "name": ["亚艺公园"]},
                            geometry=[box(113.1195, 23.0195, 113.1205, 23.0205)], crs="EPSG:4326")
    park.to_file(tmp_path / "parks.geojson", driver="GeoJSON")
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn)
        import_zone_layer(conn, path=tmp_path / "parks.geojson", layer="parks", code_field="code", name_field="name")
        ids = {name: report(conn, name) for name in REPORTS}
        act(conn, case_id=ids["rejected"], action="reject", actor=actor("intake"), policy=Policy(),
            request=Request(note="重复 duplicate"))
        reroute(conn, ids["ads"], tmp_path)
        conn.execute("UPDATE event_case SET deadline = now() - interval '1 hour', yellow_at = now() - "
                     "interval '2 hours' WHERE id = %s", (ids["park"],))
        conn.execute("UPDATE event_case SET created_at = %s WHERE id = %s",
                     (datetime.now(TZ) - timedelta(days=10), ids["old"]))
        conn.commit()
    return chancheng_url, tokens, ids


def exported(url, **filters) -> list[dict]:
    """The domain function with no scope limit, as the command line calls it."""
    since, until = filters.pop("since", None), filters.pop("until", None)
    with psycopg.connect(url) as conn:
        return export.cases(conn, filters=export.ExportFilter(MapFilter(**filters), since=since, until=until),
                            scope=export.NO_SCOPE, me=None, tz=TZ)


# -- reading the files back, each with its own library -------------------------------------------------------------

def read_csv(path: Path) -> list[dict]:
    assert path.read_bytes().startswith(codecs.BOM_UTF8)  # so Excel reads the Chinese text as UTF-8
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == export.COLUMNS
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


def read_geo(path: Path) -> list[dict]:
    frame = pyogrio.read_dataframe(path, datetime_as_string=True)  # GDAL would parse the ISO times
    assert frame.crs.to_epsg() == 4326 and set(frame.geom_type) <= {"Point"}
    if len(frame) or path.suffix == ".gpkg":  # GeoJSON has no schema: an empty collection has no columns
        assert list(frame.columns[:-1]) == list(export.COLUMNS)
    rows = []
    for record in frame.to_dict("records"):
        point = record.pop("geometry")
        assert (round(point.x, 6), round(point.y, 6)) == (round(record["lon"], 6), round(record["lat"], 6))
        rows.append({k: (None if v is None or v != v else v) for k, v in record.items()})  # NaN → None
    return rows


def read_xlsx(path: Path) -> list[dict]:
    sheet = load_workbook(path)["cases"]
    assert sheet.freeze_panes == "A2"
    lines = list(sheet.iter_rows())
    assert tuple(c.value for c in lines[0]) == export.COLUMNS
    assert all(c.data_type != "f" for line in lines for c in line)  # no cell is a formula
    return [dict(zip(export.COLUMNS, (c.value for c in line))) for line in lines[1:]]


READERS = {"csv": read_csv, "geojson": read_geo, "gpkg": read_geo, "xlsx": read_xlsx}


def text(value) -> str:
    """A cell as text, whatever type the format gave it back as."""
    return "" if value is None else str(value)


# -- the tests -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg", "xlsx"])
def test_each_format_holds_every_case_with_grid_chain_routing_and_times(world, tmp_path, fmt):
    url, _, ids = world
    path = tmp_path / f"cases{export.EXTENSIONS[fmt]}"
    export.write(exported(url), path, fmt)
    rows = {int(r["id"]): r for r in READERS[fmt](path)}
    assert sorted(rows) == sorted(ids.values())
    with psycopg.connect(url) as conn:
        truth = {r[0]: r[1:] for r in conn.execute(
            "SELECT c.id, c.status, c.district_code, c.street_code, c.street_name, c.community_code, "
            "c.community_name, c.grid_code, c.grid_name, c.department_code, d.name, c.created_at, c.deadline, "
            "ST_X(c.geom), ST_Y(c.geom) FROM event_case c LEFT JOIN department d ON d.code = c.department_code")}
    for case_id, (status, district, street, street_name, community, community_name, grid, grid_name, department,
                  department_name, created, deadline, lon, lat) in truth.items():
        row = rows[case_id]
        assert [text(row[k]) for k in ("status", "district_code", "street_code", "street_name", "community_code",
                                       "community_name", "grid_code", "grid_name", "department_code",
                                       "department_name")] == \
               [text(v) for v in (status, district, street, street_name, community, community_name, grid, grid_name,
                                  department, department_name)]
        assert row["created_at"] == created.astimezone(TZ).isoformat(timespec="seconds")
        assert row["created_at"].endswith("+08:00") and text(row["deadline"]) == (
            deadline.astimezone(TZ).isoformat(timespec="seconds") if deadline else "")
        assert abs(float(row["lon"]) - lon) < 1e-6 and abs(float(row["lat"]) - lat) < 1e-6
    park, ads, shiwan, rejected, old = (rows[ids[n]] for n in ("park", "ads", "shiwan", "rejected", "old"))
    assert (park["street_code"], shiwan["street_code"]) == (ZUMIAO, SHIWAN)
    assert park["zones"] == "parks:P1 亚艺公园" and text(ads["zones"]) == ""
    assert (park["routing_rule"], park["routing_to"]) == (PARK_RULE, "D-YL")
    assert (old["routing_rule"], old["routing_to"]) == (LITTER_RULE, "S-012-HWS")
    assert (ads["routing_rule"], ads["routing_to"], ads["department_code"]) == (NEW_ADS_RULE, "D-CGZF", "D-CGZF")
    assert ADS_RULE not in ads["routing_reason"]  # the latest decision, not the first one
    assert (shiwan["routing_rule"], shiwan["routing_to"]) == (LITTER_RULE, "S-010-HWS")
    assert PARK_RULE in park["routing_reason"] and "sent it to D-YL" in park["routing_reason"]
    assert (park["department_code"], park["department_name"]) == ("D-YL", "禅城区园林绿化管理中心")
    assert text(rejected["routing_rule"]) == "" and text(rejected["routing_at"]) == ""  # never routed
    assert (rejected["status"], text(rejected["department_code"])) == ("rejected", "")
    assert (park["light"], shiwan["light"], text(rejected["light"])) == ("red", "green", "")
    assert text(park["imported"]) == "False" and text(park["deadline_provisional"]) == "False"
    assert park["category_code"] == "0102" and park["category_name"] and park["reporter"] == "officer"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_spreadsheets_neutralise_formulas_and_keep_the_text(world, tmp_path, fmt):
    url, _, ids = world
    path = tmp_path / f"cases.{fmt}"
    export.write(exported(url), path, fmt)
    rows = {int(r["id"]): r for r in READERS[fmt](path)}
    assert rows[ids["park"]]["description"] == "'" + EVIL
    assert rows[ids["rejected"]]["description"] == "'\t石湾 not mine"
    assert rows[ids["old"]]["description"] == "'@ten days ago"
    assert rows[ids["shiwan"]]["description"] == "石湾 litter"  # plain text is untouched
    bell = "+广告 ads" if fmt == "xlsx" else "+广告 ads\x07"  # XML cannot hold a bell: XLSX drops it
    assert rows[ids["ads"]]["description"] == "'" + bell


def test_geographic_formats_keep_the_text_as_it_was_written(world, tmp_path):
    url, _, ids = world
    export.write(exported(url), tmp_path / "cases.geojson", "geojson")
    rows = {r["id"]: r for r in read_geo(tmp_path / "cases.geojson")}
    assert rows[ids["park"]]["description"] == EVIL and rows[ids["ads"]]["description"] == "+广告 ads\x07"


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("a=1", "a=1"), ("", ""), (" =1", " =1"), (-5.0, -5.0), (None, None),
])
def test_neutralise(value, expected):
    assert export.neutralise(value) == expected


# the map's filters → the cases of the world they admit
FILTERED = [
    ({"major": "01"}, ["park", "shiwan", "old"]), ({"major": "02"}, ["ads", "rejected"]),
    ({"department": "S-012-HWS"}, ["old"]), ({"department": "D-YL"}, ["park"]),
    ({"street": SHIWAN}, ["shiwan", "rejected"]), ({"major": "01", "street": ZUMIAO}, ["park", "old"]),
    ({"status": "open"}, ["park", "ads", "shiwan", "old"]), ({"status": "overdue"}, ["park"]),
    ({"status": "finished"}, ["rejected"]), ({"period": 0}, ["park", "ads", "shiwan", "rejected"]),
    ({"period": 10}, list(REPORTS)),
]


def test_the_filters_pick_the_same_cases_as_the_map(world):
    url, _, ids = world
    with psycopg.connect(url) as conn:
        def on_map(**f):
            found = view(conn, box=Box(112.9, 22.9, 113.3, 23.2), zoom=12, filters=MapFilter(**f),
                         scope=scope_filter(actor("leader")), me="leader", limit=1000, tz=TZ)
            return sorted(c["id"] for c in found["cases"])
        for f, names in FILTERED:
            expected = sorted(ids[n] for n in names)
            assert [r["id"] for r in exported(url, **f)] == expected == on_map(**f), f


def test_since_and_until_are_whole_days_of_report_in_the_deployments_calendar(world):
    url, _, ids = world
    today = datetime.now(TZ).date()
    ten_ago = today - timedelta(days=10)
    assert [r["id"] for r in exported(url, since=ten_ago, until=ten_ago)] == [ids["old"]]
    assert [r["id"] for r in exported(url, since=today)] == sorted(ids[n] for n in REPORTS if n != "old")
    assert [r["id"] for r in exported(url, until=today - timedelta(days=1))] == [ids["old"]]
    assert exported(url, since=today - timedelta(days=9), until=today - timedelta(days=1)) == []
    assert [r["id"] for r in exported(url, since=ten_ago, period=5)] == [r["id"] for r in exported(url, since=today)]


@pytest.mark.parametrize("filters, says", [
    ({"major": "1"}, "major must be a two-digit category code"),
    ({"major": "77"}, "unknown major category '77'"),
    ({"status": "lost"}, "status must be one of open, overdue, finished"),
    ({"department": "NOPE"}, "unknown department 'NOPE'"),
    ({"street": "440604999"}, "unknown street '440604999'"),
    ({"period": -1}, "period must be"),
    ({"street": "x\x00"}, "a filter holds a NUL character"),
    ({"department": "a\x00"}, "a filter holds a NUL character"),
])
def test_a_bad_filter_is_a_clear_error(shared_url, filters, says):
    with pytest.raises(InvalidInput, match=re.escape(says)):
        exported(shared_url, **filters)


def test_bad_days_formats_and_folders_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInput, match="since must be a day as YYYY-MM-DD, not '2026-13-01'"):
        export.parse_day("2026-13-01", name="since")
    with pytest.raises(InvalidInput, match=r"until \(2026-01-01\) is before since \(2026-02-01\)"):
        export.ExportFilter(since=export.parse_day("2026-02-01", name="since"),
                            until=export.parse_day("2026-01-01", name="until"))
    with pytest.raises(InvalidInput, match=r"must end in \.csv, \.geojson, \.json, \.gpkg, \.xlsx"):
        export.format_of("cases.pdf")
    assert [export.format_of(n) for n in ("a.CSV", "a.json", "a.geojson", "a.gpkg", "a.xlsx")] == \
           ["csv", "geojson", "geojson", "gpkg", "xlsx"]
    with pytest.raises(InvalidInput, match="format must be one of csv, geojson, gpkg, xlsx, not 'shp'"):
        export.check_format("shp")
    with pytest.raises(InvalidInput, match="does not exist"):
        export.write([], tmp_path / "missing" / "cases.csv", "csv")


@pytest.mark.parametrize("fmt", ["gpkg", "xlsx", "csv", "geojson"])
def test_an_empty_export_is_a_valid_file_with_the_columns(shared_url, tmp_path, fmt):
    path = tmp_path / f"none{export.EXTENSIONS[fmt]}"
    export.write(exported(shared_url, status="overdue"), path, fmt)
    assert READERS[fmt](path) == []
    if fmt in ("gpkg", "geojson"):
        assert pyogrio.list_layers(path)[0][0] == "cases"


def api(url, tmp_path):
    return TestClient(build_app(Settings(database_url=url, media_root=str(tmp_path / "media"))))


def test_the_api_keeps_to_the_readers_scope_and_refuses_other_roles(world, tmp_path):
    url, tokens, ids = world
    with api(url, tmp_path) as client:
        def download(who, query):
            answer = client.get(f"/api/export?{query}", headers=bearer(tokens[who]))
            assert answer.status_code == 200, answer.text
            (tmp_path / "got.csv").write_bytes(answer.content)
            return answer, sorted(int(r["id"]) for r in read_csv(tmp_path / "got.csv"))

        answer, everything = download("leader", "format=csv")
        assert everything == sorted(ids.values())
        today = datetime.now(TZ).date().isoformat()
        assert answer.headers["content-disposition"] == f'attachment; filename="citygrid-cases-{today}.csv"'
        assert answer.headers["content-type"].startswith("text/csv")
        assert download("leader_shiwan", "format=csv")[1] == sorted([ids["shiwan"], ids["rejected"]])
        assert download("leader_shiwan", f"format=csv&street={ZUMIAO}")[1] == []  # a filter cannot widen the scope
        assert download("hws_head", "format=csv")[1] == [ids["old"]]  # only what S-012-HWS holds
        assert download("leader", f"format=csv&major=01&street={ZUMIAO}&status=open&since={today}")[1] == \
               [ids["park"]]
        for who in ("hws", "officer", "intake"):
            refused = client.get("/api/export?format=csv", headers=bearer(tokens[who]))
            assert refused.status_code == 403 and "may not export cases" in refused.json()["message"], who


def test_the_api_answers_each_format_as_a_download(world, tmp_path):
    url, tokens, ids = world
    with api(url, tmp_path) as client:
        for fmt, media in (("geojson", "application/geo+json"), ("gpkg", "application/geopackage+sqlite3"),
                           ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
            answer = client.get(f"/api/export?format={fmt}&street={SHIWAN}", headers=bearer(tokens["shift"]))
            assert answer.status_code == 200 and answer.headers["content-type"] == media, answer.text
            assert answer.headers["content-disposition"].endswith(f'{export.EXTENSIONS[fmt]}"')
            path = tmp_path / f"got{export.EXTENSIONS[fmt]}"
            path.write_bytes(answer.content)
            assert sorted(int(r["id"]) for r in READERS[fmt](path)) == sorted([ids["shiwan"], ids["rejected"]])


@pytest.mark.parametrize("query, says", [
    ("format=pdf", "format: Input should be 'csv', 'geojson', 'gpkg' or 'xlsx'"),
    ("format=csv&status=lost", "status: Input should be '', 'open', 'overdue' or 'finished'"),
    ("format=csv&since=yesterday", "since must be a day as YYYY-MM-DD"),
    ("format=xlsx&since=", "since: String should have at least 1 character"),  # the schema drill: leave it out
    ("format=csv&until=9999-12-31", "until must be a day from 1900-01-01 to 2999-12-31"),
    ("format=csv&since=2026-02-01&until=2026-01-01", "is before since"),
    ("format=csv&department=NOPE", "unknown department 'NOPE'"),
    ("format=csv&period=soon", "period"),
    ("", "format"),
])
def test_the_api_answers_bad_input_with_422_and_a_reason(world, tmp_path, query, says):
    url, tokens, _ = world
    with api(url, tmp_path) as client:
        answer = client.get(f"/api/export?{query}", headers=bearer(tokens["leader"]))
    assert answer.status_code == 422 and says in answer.json()["message"], answer.text


def run(url, *args):
    return CliRunner().invoke(cli, list(map(str, args)), env={"DATABASE_URL": url})


def test_the_command_writes_the_filtered_cases_and_says_how_many(world, tmp_path):
    url, _, ids = world
    out = tmp_path / "cases.gpkg"
    done = run(url, "events", "export", out, "--status", "open", "--street", ZUMIAO, "--since",
               (datetime.now(TZ).date() - timedelta(days=30)).isoformat(), "--until", "2099-12-31")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"wrote 3 case(s) to {out}"
    assert sorted(r["id"] for r in read_geo(out)) == sorted(ids[n] for n in ("park", "ads", "old"))
    whole = run(url, "events", "export", tmp_path / "all.xlsx")
    assert whole.exit_code == 0 and f"wrote {len(ids)} case(s)" in whole.output
    assert [f for f in tmp_path.iterdir() if f.name.startswith(".citygrid-export-")] == []  # no leftovers


def test_the_command_refuses_a_bad_suffix_or_filter_and_writes_nothing(world, tmp_path):
    url, _, _ = world
    done = subprocess.run([sys.executable, "-m", "citygrid", "events", "export", str(tmp_path / "cases.txt")],
                          env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("citygrid: error: cannot export to 'cases.txt'") and ".gpkg" in done.stderr
    (tmp_path / "out").mkdir()
    kept = tmp_path / "out" / "kept.csv"
    kept.write_text("an earlier export\n", encoding="utf-8")
    for args in (["--status", "lost"], ["--street", "440604999"], ["--since", "2026-13-01"]):
        bad = run(url, "events", "export", kept, *args)
        assert bad.exit_code != 0 and isinstance(bad.exception, InvalidInput), (args, bad.output)
    assert kept.read_text(encoding="utf-8") == "an earlier export\n"
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["kept.csv"]


# -- the dashboard's control, in a browser --------------------------------------------------------------------------

@pytest.mark.browser
def test_the_dashboard_exports_the_cases_the_map_filters_show(world, tmp_path, artifacts):
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM, local_only, running_app, sign_in_form

    url, _, ids = world
    blocked, errors = [], []
    with running_app(Settings(database_url=url, media_root=str(tmp_path / "media"))) as base, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True)
        context.route("**/*", local_only(blocked))
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in_form(page, base, "leader", "/map")
        page.wait_for_function("() => window.citygrid && window.citygrid.ready && window.citygrid.filtersReady && "
                               "window.citygrid.views >= 1 && !window.citygrid.busy", timeout=30_000)
        views = page.evaluate("() => window.citygrid.views")
        page.select_option("select[name=street]", SHIWAN)
        page.wait_for_function(f"() => window.citygrid.views > {views} && !window.citygrid.busy", timeout=15_000)
        assert page.evaluate("() => window.citygrid.shown") == 2
        page.select_option("select[name=export-format]", "geojson")
        with page.expect_download() as info:
            page.click(".citygrid-export-link")
        download = info.value
        assert re.fullmatch(r"citygrid-cases-\d{4}-\d{2}-\d{2}\.geojson", download.suggested_filename)
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert sorted(r["id"] for r in read_geo(saved)) == sorted([ids["shiwan"], ids["rejected"]])
        assert f"street={SHIWAN}" in page.evaluate("() => window.citygrid.exportUrl")
        page.screenshot(path=str(artifacts / "map-export.png"))
        browser.close()
    assert blocked == [] and errors == []
