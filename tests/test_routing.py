"""Routing: the most specific rule wins, zones beat grids, 属地 vs 条线, no match lands in the dispatcher's queue,
every decision explains itself, and `rules check` reports what a new table would move."""
import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from dispatch.intake.service import submit_report
from dispatch.models import Policy
from dispatch.routing import repo
from dispatch.routing.choose import Facts, Rule, choose, shadowed, ties
from dispatch.routing.rules import RuleFileError, check_rules, export_rules, import_rules, load_rules
from gis.locator import locate
from gis.service import import_zone_layer
from tests.people import actor

HEADER = "name,category,place_kind,place_code,zone_layer,zone_code,recipient_kind,department,unit_type,priority\n"
ZUMIAO_PT, SHIWAN_PT = (113.12, 23.02), (113.1180, 22.9870)


def rule(line, category=None, place_kind=None, place_code=None, dep="D-X", priority=0, zone_layer=None,
         zone_code=None, unit_type=None):
    kind = "street_unit" if unit_type else "department"
    return Rule(None, line, f"r{line}", category, place_kind, place_code, zone_layer, zone_code, kind,
                None if unit_type else dep, unit_type, priority)


FACTS = Facts("0102", "440604012", "440604012001", "44060401200101", (("parks", "P1"),))
UNITS = {("440604012", "环卫所"): "S-012-HWS"}


@pytest.mark.parametrize("rules, expected", [
    ([rule(1, "01", dep="A"), rule(2, "0102", dep="B")], "B"),                      # minor beats major
    ([rule(1, "0102", dep="A"), rule(2, "01", "street", "440604012", dep="B")], "B"),  # place before category
    ([rule(1, "0102", "grid", "44060401200101", dep="A"), rule(2, None, "zone", zone_layer="parks", dep="B")], "B"),
    ([rule(1, "01", "community", "440604012001", dep="A"), rule(2, "01", "grid", "44060401200101", dep="B")], "B"),
    ([rule(1, "0102", dep="A", priority=1), rule(2, "0102", dep="B", priority=5)], "B"),
    ([rule(1, "01", unit_type="环卫所"), rule(2, "01", "street", "440604010", dep="B")], "S-012-HWS"),  # 属地
    ([rule(1, "01", dep="D-CGZF")], "D-CGZF"),                                       # 条线
    ([rule(1, None, "zone", zone_layer="parks", zone_code="P2", dep="A")], None),    # another park
    ([rule(1, "02", dep="A")], None),                                                # no match at all
])
def test_choose(rules, expected):
    assert choose(rules, FACTS, UNITS).department_code == expected


def test_a_street_unit_missing_in_that_street_falls_through_to_the_next_rule():
    decision = choose([rule(1, "0102", unit_type="城管中队"), rule(2, "01", dep="D-CGZF")], FACTS, UNITS)
    assert decision.department_code == "D-CGZF"
    assert decision.candidates[0]["fate"] == "no 城管中队 unit in street 440604012"


def test_ties_and_shadows_are_found():
    assert ties([rule(1, "0102", dep="A"), rule(2, "0102", dep="B")])
    assert ties([rule(1, "01", "zone", zone_layer="parks"), rule(2, "01", "zone", zone_layer="rivers")])
    assert not ties([rule(1, "01", "street", "1"), rule(2, "01", "street", "2")])
    warned = shadowed([rule(1, "0102", dep="A", priority=0), rule(2, "0102", dep="B", priority=3)])
    assert warned == ["line 1 never applies: line 2 matches every case it does and wins on priority (3 > 0)"]


def write(tmp_path, body, name="rules.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def report(conn, category, at=ZUMIAO_PT, who="officer"):
    done = submit_report(conn, actor=actor(who), policy=Policy(), category_code=category, lon=at[0],
                         lat=at[1])
    conn.commit()
    return done


def test_street_unit_and_district_bureau_and_the_stored_explanation(conn):
    litter = report(conn, "0102")  # sample rules: 01 → the street's 环卫所 (属地)
    road = report(conn, "0110")    # sample rules: 0110 → district 市政 (条线)
    assert (litter.department_code, road.department_code) == ("S-012-HWS", "D-SZGL")
    decision = repo.decisions(conn, case_id=road.case_id)[-1]
    assert decision["department_code"] == "D-SZGL" and decision["inputs"]["category"] == "0110"
    assert "sent it to D-SZGL" in decision["explanation"]
    fates = {c["line"]: c["fate"] for c in decision["candidates"]}
    assert "chosen" in fates.values() and any("more specific category" in f for f in fates.values())


def test_no_match_lands_in_the_dispatchers_queue(conn, tmp_path):
    import_rules(conn, path=write(tmp_path, "only ads,02,,,,,department,D-CGZF,,0\n"), by="test")
    done = report(conn, "0102")
    assert (done.status, done.department_code) == ("registered", None)
    decision = repo.decisions(conn, case_id=done.case_id)[-1]
    assert decision["department_code"] is None and "dispatcher's queue" in decision["explanation"]
    outbox = conn.execute("SELECT payload FROM outbox ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert outbox["to"] == {"roles": ["dispatcher"]} and str(done.case_id) in outbox["subject"]


def test_a_zone_overrides_the_grid(conn, tmp_path):
    where = locate(conn, lon=ZUMIAO_PT[0], lat=ZUMIAO_PT[1], crs="EPSG:4326")
    park = gpd.GeoDataFrame({"code": ["P1"], "name": ["亚艺公园"]},
                            geometry=[box(113.1195, 23.0195, 113.1205, 23.0205)], crs="EPSG:4326")
    park.to_file(tmp_path / "parks.geojson", driver="GeoJSON")
    import_zone_layer(conn, path=tmp_path / "parks.geojson", layer="parks", code_field="code", name_field="name")
    import_rules(conn, path=write(tmp_path, f"grid rule,0102,grid,{where.grid.code},,,department,D-CGZF,,0\n"
                                            "park rule,01,zone,,parks,,department,D-YL,,0\n"), by="test")
    in_park = report(conn, "0102")
    assert in_park.department_code == "D-YL"
    beaten = [c for c in repo.decisions(conn, case_id=in_park.case_id)[-1]["candidates"] if c["fate"] != "chosen"]
    assert beaten[0]["department"] == "D-CGZF" and "more specific place (zone over grid)" in beaten[0]["fate"]


def test_import_is_validated_all_or_nothing(conn, tmp_path):
    sets_before = len(repo.rule_sets(conn))
    bad = write(tmp_path, "a,0102,,,,,department,D-CGZF,,0\nb,0102,,,,,department,D-SZGL,,0\n"
                          "c,9999,,,,,department,D-CGZF,,0\nd,01,street,440604999,,,department,D-CGZF,,0\n"
                          "e,01,,,,,department,NOPE,,0\nf,01,,,,,street_unit,,没有这种单位,0\n")
    with pytest.raises(RuleFileError) as err:
        import_rules(conn, path=bad, by="test")
    message = str(err.value)
    for expected in ("unknown category '9999'", "unknown street code '440604999'", "unknown department 'NOPE'",
                     "no street has a unit of type '没有这种单位'", "lines 2 and 3 tie"):
        assert expected in message
    assert len(repo.rule_sets(conn)) == sets_before


def test_shadowed_rule_is_a_warning_and_history_is_kept(conn, tmp_path):
    loaded = import_rules(conn, path=write(tmp_path, "low,0102,,,,,department,D-CGZF,,0\n"
                                                     "high,0102,,,,,department,D-SZGL,,5\n"), by="alice")
    assert loaded.warnings == ["line 2 never applies: line 3 matches every case it does and wins on priority (5 > 0)"]
    sets = repo.rule_sets(conn)
    assert [s["is_active"] for s in sets] == [False, True] and sets[-1]["created_by"] == "alice"
    out = tmp_path / "out.yaml"
    assert export_rules(conn, path=out) == 2 and load_rules(conn, path=out).rules[1].priority == 5


def test_rules_check_reports_the_moves(conn, tmp_path):
    for lon in (113.120, 113.121, 113.122):  # apart: no duplicates
        report(conn, "0102", at=(lon, 23.02))
    report(conn, "0110")
    report(conn, "0102", at=SHIWAN_PT, who="officer2")
    report(conn, "0102", at=SHIWAN_PT, who="intake")  # never routed (waits for intake): not replayed
    proposed = write(tmp_path, "litter to CGZF,0102,,,,,department,D-CGZF,,0\n"
                               "roads stay,0110,,,,,department,D-SZGL,,0\n")
    start = conn.execute("SELECT now() - interval '1 day'").fetchone()[0]
    result = check_rules(conn, path=proposed, start=start, end=start + __import__("datetime").timedelta(days=2))
    assert result["cases"] == 5 and result["moved"] == 4
    moves = {(m["from"], m["to"]): m["cases"] for m in result["moves"]}
    assert moves == {("S-012-HWS", "D-CGZF"): 3, ("S-010-HWS", "D-CGZF"): 1}
    assert len(repo.rule_sets(conn)) == 1  # a check stores nothing
    json.dumps(result, default=str)
