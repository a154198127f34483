"""The shipped Chancheng grids: complete, exact tilings, and every located community inside its own polygon."""
import filecmp
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gis.crs import gcj02_to_wgs84

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "grids" / "source"
M2_PER_DEG2 = 111_320 * np.cos(np.radians(23.0)) * 110_760  # one square degree at Chancheng's latitude

ACTIVE = """
SELECT f.* FROM grid_feature f JOIN grid_release r ON r.is_active
WHERE f.layer_id = CASE %(level)s WHEN 'district' THEN r.district_layer_id WHEN 'street' THEN r.street_layer_id
                                 WHEN 'community' THEN r.community_layer_id ELSE r.grid_layer_id END
"""


def located_communities() -> pd.DataFrame:
    table = pd.read_csv(SOURCE / "chancheng_divisions_2016_gcj02.csv", dtype=str)
    rows = table[(table["level"] == "village") & table["longitude"].notna()].copy()
    rows["lon"], rows["lat"] = gcj02_to_wgs84(rows["longitude"].astype(float), rows["latitude"].astype(float))
    return rows


def test_levels_are_complete(shared_conn):
    counts = {
        level: shared_conn.execute(f"SELECT count(*) FROM ({ACTIVE}) f", {"level": level}).fetchone()[0]
        for level in ("district", "street", "community", "grid")
    }
    assert counts["district"] == 1
    assert counts["street"] == 4
    assert counts["community"] == 144
    assert 1000 <= counts["grid"] <= 2000


def test_every_community_has_a_nonempty_polygon_with_all_144_codes(shared_conn):
    table = pd.read_csv(SOURCE / "chancheng_divisions_2016_gcj02.csv", dtype=str)
    expected = set(table.loc[table["level"] == "village", "code"])
    rows = shared_conn.execute(
        f"SELECT code, ST_Area(geom::geography) FROM ({ACTIVE}) f", {"level": "community"}
    ).fetchall()
    assert {code for code, _ in rows} == expected
    assert min(area for _, area in rows) > 10_000  # every community is a real area, not a sliver


def test_no_community_is_absurdly_large(shared_conn):
    share = shared_conn.execute(
        f"SELECT max(ST_Area(geom::geography)) / sum(ST_Area(geom::geography)) FROM ({ACTIVE}) f",
        {"level": "community"},
    ).fetchone()[0]
    assert share < 0.05  # the largest village holds under 5 % of the district


def test_every_located_community_point_falls_in_its_own_polygon(shared_conn):
    points = located_communities()
    assert len(points) == 66
    misplaced = []
    for row in points.itertuples():
        found = shared_conn.execute(
            f"SELECT code FROM ({ACTIVE}) f WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326))",
            {"level": "community", "x": row.lon, "y": row.lat},
        ).fetchall()
        if [c for (c,) in found] != [row.code]:
            misplaced.append((row.code, row.name, found))
    assert misplaced == []


@pytest.mark.parametrize("level", ["street", "community", "grid"])
def test_level_tiles_the_district_without_overlap_or_gap(shared_conn, level):
    # Measured where the locator works: planar lon/lat (edges straight in lon/lat), scaled to m² at 23°N.
    # A projection (UTM) or geography would bend the edges and turn hair-thin slivers into phantom area.
    overlap = shared_conn.execute(
        f"""WITH f AS ({ACTIVE})
        SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)) * %(m2)s), 0)
        FROM f a JOIN f b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)""",
        {"level": level, "m2": M2_PER_DEG2},
    ).fetchone()[0]
    symdiff = shared_conn.execute(
        f"""SELECT ST_Area(ST_SymDifference(
                (SELECT ST_Union(geom) FROM ({ACTIVE}) f),
                (SELECT ST_Union(geom) FROM ({ACTIVE.replace('%(level)s', "'district'")}) d))) * %(m2)s""",
        {"level": level, "m2": M2_PER_DEG2},
    ).fetchone()[0]
    assert overlap <= 1.0, f"{level}: {overlap:.3f} m² of overlap"
    assert symdiff <= 1.0, f"{level}: {symdiff:.3f} m² differs from the outline"


def test_grid_sizes_follow_workload_and_fit_the_sequence(shared_conn):
    by_street = dict(shared_conn.execute(
        f"SELECT left(code, 9), avg(ST_Area(geom::geography)) FROM ({ACTIVE}) f GROUP BY 1", {"level": "grid"}
    ).fetchall())
    assert by_street["440604012"] < by_street["440604100"] / 3  # 祖庙 core grids far smaller than 南庄's
    most = shared_conn.execute(
        f"SELECT max(n) FROM (SELECT count(*) n FROM ({ACTIVE}) f GROUP BY parent_code) c", {"level": "grid"}
    ).fetchone()[0]
    assert most <= 99
    bad = shared_conn.execute(
        f"SELECT count(*) FROM ({ACTIVE}) f WHERE code !~ '^[0-9]{{14}}$' OR left(code, 12) <> parent_code",
        {"level": "grid"},
    ).fetchone()[0]
    assert bad == 0


def test_build_script_is_reproducible(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "data/grids/build_chancheng.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in ("chancheng_district.geojson", "chancheng_streets.geojson", "chancheng_communities.geojson",
                 "chancheng_grids.geojson", "build_report.json"):
        assert filecmp.cmp(tmp_path / name, ROOT / "data/grids" / name, shallow=False), name
    report = json.loads((tmp_path / "build_report.json").read_text())
    assert report["summary"]["communities"] == 144
