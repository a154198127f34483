"""Rule and zone mining (issue 5, item 4), on a synthetic history made from a known rule set.

The known set routes (a) some categories by category alone, (b) some by street (属地, and one with a district
bureau for one street), (c) two categories by contractor patches that match no imported layer: three strips cut
at a slant across streets and grids for 0102, a disc and the rest for 0104, and (d) one by an imported zone layer
(three markets, loaded before the history). A few thousand cases at random
points of the district are routed by it, given 4 % detours (sent to a wrong department, returned, sent on), 1 %
wrong handlers and 1 % returned for good, and imported as history through `import_history`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
from shapely import affinity
from typer.testing import CliRunner

from citygrid.cli import app
from dispatch.exchange.history_import import import_history
from dispatch.routing import repo
from dispatch.routing import mining, mining_zones
from dispatch.routing.choose import Facts, choose
from dispatch.routing.departments import import_departments
from dispatch.routing.router import decide, street_units
from dispatch.routing.rules import import_rules, load_rules
from gis import repo as gis_repo
from gis.locator import locate_many
from gis.service import import_zone_layer
from gis.topology import LocalMetric, overlap_problems
from tests.conftest import url_for

ROOT = Path(__file__).resolve().parents[1]
LAYER = "learned_areas"
CONTRACTORS = """code,name,kind,unit_type,parent_code,street_code
C-HW-A,环卫承包西片,bureau,环卫承包,,
C-HW-B,环卫承包中片,bureau,环卫承包,,
C-HW-C,环卫承包东片,bureau,环卫承包,,
C-QJ-IN,道路清扫承包圈内,bureau,清扫承包,,
C-QJ-OUT,道路清扫承包圈外,bureau,清扫承包,,
"""
KNOWN = """name,category,place_kind,place_code,zone_layer,zone_code,recipient_kind,department,unit_type,priority
道路破损归区市政,0110,,,,,department,D-SZGL,,0
机动车乱停放归交警,0505,,,,,department,D-GA-JJ,,0
施工扰民归生态环境,0301,,,,,department,D-STHJ,,0
道路积水归区水务,0406,,,,,department,D-SW,,0
其余突发事件归区市政,04,,,,,department,D-SZGL,,0
私搭乱建归属地城管中队,0101,,,,,street_unit,,城管中队,0
流浪乞讨归属地街道办,0502,,,,,street_unit,,街道办,0
小广告归属地城管中队,0201,,,,,street_unit,,城管中队,0
南庄小广告归区城管,0201,street,440604100,,,department,D-CGZF,,0
市场内店外经营归市场监管,0504,zone,,markets,,department,D-SCJG,,0
店外经营归区城管,0504,,,,,department,D-CGZF,,0
暴露垃圾西片,0102,zone,,patches,W,department,C-HW-A,,0
暴露垃圾中片,0102,zone,,patches,M,department,C-HW-B,,0
暴露垃圾东片,0102,zone,,patches,E,department,C-HW-C,,0
道路不洁圈内,0104,zone,,patches,IN,department,C-QJ-IN,,0
道路不洁圈外,0104,zone,,patches,OUT,department,C-QJ-OUT,,0
"""
BY_CATEGORY = ("0110", "0505", "0301", "0406")
BY_STREET = ("0101", "0502", "0201")
BY_PATCH = ("0102", "0104")
BY_MARKET = "0504"
CASES = {"0102": 950, "0104": 950, "0101": 250, "0502": 250, "0201": 250, "0110": 130, "0505": 130,
         "0301": 130, "0406": 130, "0504": 250, "0401": 10, "0405": 10, "0408": 10}


# ---- the synthetic city ----------------------------------------------------------------------------------------

def patches(district: shapely.Geometry) -> dict[str, dict[str, shapely.Geometry]]:
    """Zones by layer (WGS84), drawn in local metres: the contractor patches (three slanted strips; a disc and its
    outside) and three markets."""
    metric = LocalMetric(np.array([district], dtype=object))
    far = 60_000

    def strip(u0: float, u1: float) -> shapely.Geometry:
        return affinity.rotate(shapely.box(u0, -far, u1, far), 0.5, origin=(0, 0), use_radians=True)

    disc = shapely.Point(2000, -1000).buffer(4000, quad_segs=16)
    drawn = {"W": strip(-far, -3000), "M": strip(-3000, 2500), "E": strip(2500, far), "IN": disc,
             "OUT": shapely.box(-far, -far, far, far).difference(disc)}
    markets = {f"M{n}": shapely.Point(x, y).buffer(1500, quad_segs=8)
               for n, (x, y) in enumerate(((-6000, -1000), (-3000, 2500), (4500, 4000)), 1)}
    return {layer: dict(zip(z, metric.backward(np.array(list(z.values()), dtype=object))))
            for layer, z in (("patches", drawn), ("markets", markets))}


def patch_zones(drawn: dict, lon: np.ndarray, lat: np.ndarray) -> list[tuple]:
    """(layer, code) of the drawn zones covering each point."""
    keys = [(layer, code) for layer, zones in drawn.items() for code in zones]
    geoms = np.array([drawn[layer][code] for layer, code in keys], dtype=object)
    point, zone = shapely.STRtree(geoms).query(shapely.points(lon, lat), predicate="covered_by")
    out = [[] for _ in lon]
    for p, z in zip(point, zone):
        out[p].append(keys[z])
    return [tuple(sorted(z)) for z in out]


def known_department(known, drawn, units, rows) -> list[str | None]:
    """What the known rule set sends each case row to."""
    zones = patch_zones(drawn, np.array([r["lon"] for r in rows]), np.array([r["lat"] for r in rows]))
    return [choose(known, Facts(r["category_code"], r["street_code"], r["community_code"], r["grid_code"], z),
                   units).department_code for r, z in zip(rows, zones)]


def random_points(conn, n: int, rng) -> list[tuple[float, float, str]]:
    """n random points inside the district with their unit grid (the vectorised locator)."""
    ids = gis_repo.active_layer_ids(conn)
    codes, _, _, geoms = gis_repo.layer_features(conn, layer_id=ids["grid"])
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    found: list = []
    while len(found) < n:
        lon, lat = rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)
        grid = locate_many(codes, geoms, lon, lat)
        found += [(x, y, g) for x, y, g in zip(lon, lat, grid) if g]
    return found[:n]


def steps(day: int, route: list[str], *, returned_for_good: bool) -> list[dict]:
    """report → register → dispatch (each department of `route`; all but the last return) → accept … close."""
    clock = iter(range(0, 600, 5))

    def at() -> str:
        m = next(clock)
        return f"2026-10-{day:02d}T{9 + m // 60:02d}:{m % 60:02d}:00+08:00"

    out = [{"at": at(), "action": "report", "actor": "officer"}, {"at": at(), "action": "register", "actor": "o"}]
    for n, dep in enumerate(route):
        out.append({"at": at(), "action": "dispatch", "actor": "system", "department": dep})
        if n < len(route) - 1 or returned_for_good:
            out.append({"at": at(), "action": "return", "actor": "h", "note": "不属于本单位"})
    if not returned_for_good:
        out += [{"at": at(), "action": a, "actor": "h", "note": "done"} for a in ("accept", "handle")]
        out += [{"at": at(), "action": a, "actor": "o"} for a in ("check_ok", "close")]
    return out


def synthetic_history(conn, known, drawn, path: Path, seed: int = 5) -> Path:
    """Write the synthetic history as JSON Lines: each case routed by the known set, with a little noise."""
    rng = np.random.default_rng(seed)
    categories = np.array([c for c, n in CASES.items() for _ in range(n)], dtype=object)
    rng.shuffle(categories)
    points = random_points(conn, len(categories), rng)
    rows = [{"category_code": c, "lon": x, "lat": y, "grid_code": g, "community_code": g[:12], "street_code": g[:9]}
            for c, (x, y, g) in zip(categories, points)]
    truth = known_department(known, drawn, street_units(conn), rows)
    others = sorted({r.department_code for r in known if r.department_code})
    lines = []
    for n, (row, dep) in enumerate(zip(rows, truth)):
        noise, wrong = rng.random(), others[rng.integers(len(others))]
        route = [wrong, dep] if noise < 0.04 else [wrong] if noise < 0.05 else [dep]
        case = {"external_id": f"SYN-{n}", "category": row["category_code"], "lon": row["lon"], "lat": row["lat"],
                "steps": steps(1 + n % 28, route, returned_for_good=0.05 <= noise < 0.06)}
        lines.append(json.dumps(case, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_history(conn, folder: Path, seed: int = 5) -> dict:
    """Contractors, the markets layer, the known rules, and the synthetic history imported (not committed)."""
    (folder / "contractors.csv").write_text(CONTRACTORS, encoding="utf-8")
    (folder / "known.csv").write_text(KNOWN, encoding="utf-8")
    import_departments(conn, path=folder / "contractors.csv")
    district = mining.district_geometry(conn)
    drawn = patches(district)
    markets = gpd.GeoDataFrame({"code": list(drawn["markets"]), "name": ["市场"] * 3},
                               geometry=list(drawn["markets"].values()), crs="EPSG:4326")
    markets.to_file(folder / "markets.geojson", driver="GeoJSON", engine="pyogrio")
    import_zone_layer(conn, path=folder / "markets.geojson", layer="markets", code_field="code", name_field="name")
    known = load_rules(conn, path=folder / "known.csv").rules
    history = synthetic_history(conn, known, drawn, folder / "history.jsonl", seed=seed)
    started = time.perf_counter()
    done = import_history(conn, path=history, by="test")
    assert done.skipped == [] and len(done.imported) == sum(CASES.values())
    return {"known": known, "drawn": drawn, "district": district, "seconds": time.perf_counter() - started}


@pytest.fixture(scope="module")
def city(databases, chancheng_template, tmp_path_factory):
    """A database holding the synthetic history (a template: tests clone it), and what made it."""
    name = databases.create(template=chancheng_template, suffix="mining_history")
    with psycopg.connect(url_for(name)) as conn:
        made = build_history(conn, tmp_path_factory.mktemp("mining"))
        conn.commit()
    print(f"\nimported {sum(CASES.values())} synthetic cases in {made['seconds']:.1f} s")
    return {"template": name, **made}


@pytest.fixture
def history_url(databases, city) -> str:
    """A fresh copy of the synthetic-history database."""
    return url_for(databases.create(template=city["template"]))


# ---- the acceptance test ---------------------------------------------------------------------------------------

def test_mined_rules_and_zones_route_held_out_history_as_the_known_set(history_url, city, tmp_path):
    with psycopg.connect(history_url) as conn:
        started = time.perf_counter()
        found = mining.suggest(conn, holdout=0.2, seed=3, min_support=20, zone_layer=LAYER)
        seconds = time.perf_counter() - started
        rules_csv, zones_gpkg = tmp_path / "rules.csv", tmp_path / "zones.gpkg"
        mining.write_rules(rules_csv, found)
        assert mining.write_zones(zones_gpkg, found)
        import_zone_layer(conn, path=zones_gpkg, layer=LAYER, code_field="code", name_field="name")
        loaded = import_rules(conn, path=rules_csv, by="test")
        assert loaded.warnings == [] and len(loaded.rules) == len(found.rows)
        mining.write_rules(tmp_path / "rules.yaml", found)
        assert [r.name for r in load_rules(conn, path=tmp_path / "rules.yaml").rules] == \
            [r.name for r in loaded.rules]
        rows = mining.relocated_cases(conn, case_ids=found.holdout_ids)
        rules, units = repo.active_rules(conn), street_units(conn)
        routed = [decide(conn, case=row, rules=rules, units=units).department_code for row in rows]
    known = known_department(city["known"], city["drawn"], units, rows)
    agree = np.mean(np.array(routed, dtype=object) == np.array(known, dtype=object))
    print(f"mined in {seconds:.1f} s; held-out agreement with the known set {agree:.2%}, with history "
          f"{found.overall['rules']:.2%}; by family {found.overall}")
    assert agree >= 0.95
    # the real router on the database routes exactly as the mining measured in process
    assert [r["id"] for r in rows] == found.holdout_ids.tolist()
    assert routed == found.holdout_routed.tolist()
    chosen = {c.key: c.chosen for c in found.choices}
    assert {chosen[c].family for c in BY_CATEGORY} == {"category"}
    assert {(chosen[c].family, chosen[c].layer) for c in BY_STREET} == {("layer", "street")}
    assert {chosen[c].family for c in BY_PATCH} == {"learned"}
    assert (chosen[BY_MARKET].family, chosen[BY_MARKET].layer) == ("layer", "zone:markets")
    pooled = next(c for c in found.choices if c.key == "04*")
    assert pooled.chosen.family == "category" and pooled.categories == ("0401", "0405", "0408")
    assert_zones_tile_the_district(found.zones, city["district"])
    assert mining.write_zones(tmp_path / "zones.geojson", found)
    assert gpd.read_file(tmp_path / "zones.geojson")["code"].tolist() == found.zones["code"].tolist()
    zone_rules = [r for r in loaded.rules if r.zone_layer == LAYER]
    assert {r.category for r in zone_rules} == set(BY_PATCH)
    assert {r.zone_code for r in zone_rules} == set(found.zones["code"])
    support = sum(c.support for c in found.choices if c.key in BY_PATCH)  # a few lie outside the simplified outline
    assert 0.99 * support <= found.zones["cases"].sum() <= support


def assert_zones_tile_the_district(zones: gpd.GeoDataFrame, district: shapely.Geometry) -> None:
    """No overlaps (the grid importer's own check, 1 m²), the district covered within 1 % of its area, every zone
    within the stated vertex bound."""
    metric = LocalMetric(np.array([district], dtype=object))
    geoms = metric.forward(zones.geometry.to_numpy())
    district_m = metric.forward(np.array([district], dtype=object))[0]
    codes = zones["code"].tolist()
    assert overlap_problems(codes, codes, geoms, tolerance_m2=1.0, crs=metric) == []
    union = shapely.union_all(geoms)
    assert shapely.difference(district_m, union).area < 0.01 * district_m.area
    assert shapely.difference(union, district_m).area < 0.01 * district_m.area
    assert shapely.get_num_coordinates(zones.geometry.to_numpy()).max() <= mining_zones.MAX_ZONE_VERTICES
    assert 3 <= len(zones) <= 12 and zones["code"].is_unique


# ---- the command -----------------------------------------------------------------------------------------------

def run(url: str, *args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"DATABASE_URL": url})


def test_cli_suggest_writes_rules_and_zones_that_the_importers_take(history_url, tmp_path):
    rules_csv, zones = tmp_path / "rules.csv", tmp_path / "zones.gpkg"
    done = run(history_url, "rules", "suggest", "--from-history", "--out", rules_csv, "--zones-out", zones,
               "--holdout", "0.25", "--seed", "11", "--min-support", "25")
    assert done.exit_code == 0, (done.output, done.exception)
    print(done.output)
    lines = done.output.splitlines()
    training, held, unhandled, retired = (int(w) for w in lines[0].replace(";", " ").split() if w.isdigit())
    assert training + held + unhandled == sum(CASES.values()) and held == round(0.25 * (training + held))
    assert 0 < unhandled < 0.03 * sum(CASES.values()) and retired == 0
    for category in BY_PATCH:
        assert any(ln.startswith(category) and "learned zones" in ln for ln in lines), category
    for category in BY_STREET:
        assert any(ln.startswith(category) and "street layer" in ln for ln in lines), category
    assert any(ln.startswith(BY_MARKET) and "zone layer markets" in ln for ln in lines)
    overall = next(ln for ln in lines if ln.startswith("agreement with the held-out history: suggested rules"))
    assert float(overall.split("suggested rules ")[1].split("%")[0]) >= 95
    assert f"--layer {LAYER} --code-field code --name-field name" in done.output
    frame = gpd.read_file(zones)
    assert list(frame.columns[:4]) == ["code", "name", "cases", "vertices"] and frame.crs.to_epsg() == 4326
    imported = run(history_url, "zones", "import", zones, "--layer", LAYER, "--code-field", "code",
                   "--name-field", "name")
    assert imported.exit_code == 0 and f"imported {len(frame)} zone(s)" in imported.output, imported.output
    loaded = run(history_url, "rules", "import", rules_csv)
    assert loaded.exit_code == 0 and "warning" not in loaded.output, loaded.output
    text = rules_csv.read_text(encoding="utf-8")
    assert text.startswith("# suggested from history") and "\n# 0102 暴露垃圾: learned zones;" in text


def test_cli_without_history_says_so_and_exits_1(shared_url, tmp_path):
    done = subprocess.run([sys.executable, "-m", "citygrid", "rules", "suggest", "--from-history", "--out",
                           str(tmp_path / "r.csv")], env={"DATABASE_URL": shared_url, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("citygrid: error: there is no imported history to mine") and \
        "citygrid cases import FILE" in done.stderr
    assert not (tmp_path / "r.csv").exists()


def test_cli_with_one_department_writes_one_rule_and_no_zones(chancheng_url, tmp_path):
    cases = [{"external_id": f"Z-{n}", "category": "0102", "lon": 113.1187 + n * 1e-4, "lat": 23.03,
              "steps": steps(1 + n, ["S-012-HWS"], returned_for_good=False)} for n in range(12)]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases), encoding="utf-8")
    with psycopg.connect(chancheng_url) as conn:
        assert import_history(conn, path=path, by="test").skipped == []
    done = run(chancheng_url, "rules", "suggest", "--from-history", "--out", tmp_path / "r.csv", "--min-support", "5")
    assert done.exit_code == 0, (done.output, done.exception)
    assert "no category needs learned zones" in done.output and not (tmp_path / "r_zones.gpkg").exists()
    rules = [ln for ln in (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert len(rules) == 2 and rules[1].endswith(",0102,,,,,department,S-012-HWS,,0")


@pytest.mark.parametrize("args, message", [
    (("--out", "r.csv"), "--from-history"),
    (("--from-history", "--out", "r.csv", "--holdout", "1.5"), "--holdout 1.5 must be a share between 0 and 1"),
    (("--from-history", "--out", "r.csv", "--min-support", "0"), "--min-support 0 must be at least 1"),
    (("--from-history", "--out", "r.txt"), "must end in .csv, .yaml or .yml"),
    (("--from-history", "--out", "r.csv", "--zones-out", "r.shp"), "must end in .gpkg, .geojson or .json"),
    (("--from-history", "--out", "nowhere/r.csv"), "the folder"),
    (("--from-history", "--out", "r.csv", "--seed", "-1"), "--seed -1 must be a whole number of 0 or more"),
])
def test_cli_refuses_bad_options(shared_url, tmp_path, args, message):
    done = run(shared_url, "rules", "suggest", *[str(tmp_path / a) if a.startswith(("r.", "nowhere")) else a
                                                  for a in args])
    assert done.exit_code != 0 and message in str(done.exception), (done.output, done.exception)


# ---- the handler, and the pure parts -----------------------------------------------------------------------------

def test_the_handler_is_the_last_dispatch_that_was_not_returned(conn, tmp_path):
    def case(n: int, route: list[str], returned_for_good: bool = False, reopen_to: str | None = None) -> dict:
        trail = steps(1 + n, route, returned_for_good=returned_for_good)
        if reopen_to:
            trail += [{"at": f"2026-10-{2 + n:02d}T09:00:00+08:00", "action": "reopen", "actor": "l", "note": "又脏了"},
                      {"at": f"2026-10-{2 + n:02d}T09:10:00+08:00", "action": "dispatch", "actor": "s",
                       "department": reopen_to},
                      {"at": f"2026-10-{2 + n:02d}T09:20:00+08:00", "action": "return", "actor": "h", "note": "不是我们"}]
        return {"external_id": f"H-{n}", "category": "0102", "lon": 113.1187, "lat": 23.03, "steps": trail}

    cases = [case(1, ["S-012-HWS"]), case(2, ["S-012-CGZD", "S-011-CGZD", "S-012-HWS"]),
             case(3, ["S-012-HWS"], returned_for_good=True), case(4, ["S-012-HWS"], reopen_to="S-012-CGZD")]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases), encoding="utf-8")
    assert import_history(conn, path=path, by="test").skipped == []
    history = mining.load_history(conn)
    assert history.handler.tolist() == ["S-012-HWS", "S-012-HWS", "S-012-HWS"] and history.unhandled == 1
    assert history.places["street"].tolist() == ["440604012"] * 3
    with pytest.raises(mining.MiningError, match="only 3 imported case"):
        mining.suggest(conn)


def test_no_history_is_a_clear_error(shared_conn):
    with pytest.raises(mining.MiningError, match="no imported history to mine"):
        mining.suggest(shared_conn)


def candidate(family, agreement, rules=1, layer=None):
    return mining.Candidate(family, layer, agreement, rules)


@pytest.mark.parametrize("candidates, expected", [
    ([candidate("category", 0.99), candidate("layer", 1.0, 5, "street"), candidate("learned", 1.0, 3)], 0),
    ([candidate("category", 0.40), candidate("layer", 0.99, 5, "street"), candidate("learned", 0.995, 3)], 1),
    ([candidate("category", 0.40), candidate("layer", 0.80, 5, "street"), candidate("learned", 0.97, 3)], 2),
    ([candidate("layer", 0.95, 90, "community"), candidate("layer", 0.95, 4, "street")], 1),
    ([candidate("layer", 0.975, 700, "grid"), candidate("learned", 0.97, 6)], 1),
    ([candidate("layer", 0.975, 5, "street"), candidate("learned", 0.97, 6)], 0),
])
def test_pick_prefers_the_simpler_choice_within_the_margin(candidates, expected):
    assert mining.pick(candidates) is candidates[expected]


def test_layer_model_falls_back_where_a_unit_has_too_few_cases():
    units = np.array([0, 0, 0, 1, 1, 1, 1, 2, -1, -1])
    labels = np.array([5, 5, 4, 3, 3, 3, 2, 3, 4, 4])
    unit_label, fallback = mining.fit_layer(units, labels, 3)
    assert unit_label.tolist() == [5, 3, -1] and fallback == 4  # unit 2 has one case; the unruled are 2 of 4
    assert mining.predict_layer((unit_label, fallback), np.array([0, 1, 2, -1])).tolist() == [5, 3, 4, 4]


def test_learned_partition_tiles_a_square_and_finds_a_diagonal_border():
    square = shapely.box(0, 0, 10_000, 10_000)
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 10_000, (1500, 2))
    labels = (xy[:, 0] + 0.5 * xy[:, 1] > 7000).astype(np.int64)
    zones, tuples = mining_zones.learn_partition(square, [(xy, labels)])
    assert sorted(tuples[:, 0].tolist()) == [0, 1] and shapely.coverage_is_valid(zones)
    assert abs(shapely.union_all(zones).area - square.area) < 0.005 * square.area
    assert shapely.get_num_coordinates(zones).max() <= mining_zones.MAX_ZONE_VERTICES
    probe = rng.uniform(0, 10_000, (4000, 2))
    truth = (probe[:, 0] + 0.5 * probe[:, 1] > 7000).astype(np.int64)
    inside = shapely.contains_xy(zones[np.argmax(tuples[:, 0] == 1)], probe[:, 0], probe[:, 1])
    assert np.mean(inside == truth.astype(bool)) > 0.98
