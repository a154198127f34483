"""The locator: the full chain, the shared-edge rule, errors outside, GCJ-02 input, zones."""
import numpy as np
import pytest
import shapely

from core.errors import InvalidInput
from gis import repo as gis_repo
from gis.crs import gcj02_to_wgs84, wgs84_to_gcj02
from gis.errors import OutsideDistrict, UnknownCRS
from gis.locator import locate, locate_many


def active_grids(conn):
    ids = gis_repo.active_layer_ids(conn)
    codes, _, _, geoms = gis_repo.layer_features(conn, layer_id=ids["grid"])
    return codes, geoms


def shared_vertices(codes, geoms, limit=40):
    """Vertices that at least two grids have, with the grids that have them."""
    owners: dict[tuple, set] = {}
    for code, geom in zip(codes, geoms):
        for xy in map(tuple, shapely.get_coordinates(geom)):
            owners.setdefault(xy, set()).add(code)
    return [(xy, sorted(c)) for xy, c in owners.items() if len(c) >= 2][:limit]


def test_locate_returns_the_full_chain(shared_conn):
    where = locate(shared_conn, lon=113.12, lat=23.02)
    assert where.district.code == "440604" and where.district.name == "禅城区"
    assert where.grid.code.startswith(where.community.code)
    assert where.community.code.startswith(where.street.code)
    assert where.street.code.startswith(where.district.code)
    assert len(where.grid.code) == 14 and where.zones == []


def test_point_on_shared_edge_gets_the_lowest_code(shared_conn):
    codes, geoms = active_grids(shared_conn)
    cases = shared_vertices(codes, geoms)
    assert len(cases) >= 20
    for (x, y), owners in cases:
        covering = [r[0] for r in shared_conn.execute(
            "SELECT f.code FROM grid_feature f JOIN grid_release r ON r.is_active AND f.layer_id = r.grid_layer_id "
            "WHERE ST_Covers(f.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (x, y)).fetchall()]
        assert len(covering) >= 2, (x, y)  # really on an edge shared by several grids
        assert locate(shared_conn, lon=x, lat=y).grid.code == min(covering)
    bulk = locate_many(codes, geoms, np.array([c[0][0] for c in cases]), np.array([c[0][1] for c in cases]))
    assert list(bulk) == [locate(shared_conn, lon=x, lat=y).grid.code for (x, y), _ in cases]


def test_vectorised_locate_agrees_with_sql(shared_conn):
    codes, geoms = active_grids(shared_conn)
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(112.98, 113.16, 300), rng.uniform(22.93, 23.08, 300)
    bulk = locate_many(codes, geoms, lon, lat)
    for x, y, code in zip(lon, lat, bulk):
        try:
            expected = locate(shared_conn, lon=float(x), lat=float(y)).grid.code
        except OutsideDistrict:
            expected = None
        assert code == expected


@pytest.mark.parametrize("lon,lat", [(113.5, 23.02), (116.4, 39.9), (0.0, 0.0)])
def test_point_outside_names_the_district(shared_conn, lon, lat):
    with pytest.raises(OutsideDistrict, match=r"outside 禅城区 \(440604\)"):
        locate(shared_conn, lon=lon, lat=lat)


def test_bad_coordinates_are_refused(shared_conn):
    with pytest.raises(InvalidInput, match="within -180..180"):
        locate(shared_conn, lon=200.0, lat=23.0)
    with pytest.raises(InvalidInput, match="finite"):
        locate(shared_conn, lon=float("nan"), lat=23.0)
    with pytest.raises(UnknownCRS, match="unknown coordinate system"):
        locate(shared_conn, lon=113.1, lat=23.0, crs="EPSG:999999")


def test_gcj02_input_locates_like_its_wgs84_equivalent(shared_conn):
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(113.03, 113.15, 100), rng.uniform(22.95, 23.06, 100)
    glon, glat = wgs84_to_gcj02(lon, lat)
    checked = 0
    for x, y, gx, gy in zip(lon, lat, glon, glat):
        try:
            plain = locate(shared_conn, lon=float(x), lat=float(y))
        except OutsideDistrict:
            continue
        shifted = locate(shared_conn, lon=float(gx), lat=float(gy), crs="gcj02")
        assert shifted.grid == plain.grid
        assert abs(shifted.lon - x) < 1e-8 and abs(shifted.lat - y) < 1e-8
        checked += 1
    assert checked >= 40


def test_gcj02_conversion_matches_a_reference_implementation():
    import prcoords  # a public-domain reference implementation, a test dependency
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(100, 125, 200), rng.uniform(18, 45, 200)
    glon, glat = wgs84_to_gcj02(lon, lat)
    for x, y, gx, gy in zip(lon, lat, glon, glat):
        ref = prcoords.wgs_gcj(prcoords.Coords(float(y), float(x)))
        assert abs(ref.lon - gx) < 1e-9 and abs(ref.lat - gy) < 1e-9
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert np.max(np.abs(back_lon - lon)) < 1e-9 and np.max(np.abs(back_lat - lat)) < 1e-9
    # Chancheng's offset is about 630 m (README of the source data)
    gx, gy = wgs84_to_gcj02(113.12, 23.01)
    assert 500 < np.hypot((gx - 113.12) * 102_400, (gy - 23.01) * 110_760) < 750
