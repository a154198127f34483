"""Grid import: a foreign city in UTM through the CLI, and every validation failure rejected with no change."""
from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from citygrid.cli import app
from core.errors import Conflict
from gis.errors import GridFileError, GridValidationError
from gis.locator import locate
from gis.service import activate_release, create_release, import_grid_layer, import_zone_layer
from tests import cityfactory as city

WIDTHS = (6, 3, 3, 2)
TABLES = ("grid_layer", "grid_feature", "grid_release", "zone_layer", "zone_version", "zone_feature")


def snapshot(conn) -> dict:
    """Row counts and a checksum of every grid table."""
    return {t: conn.execute(f"SELECT count(*), md5(coalesce(string_agg(x::text, '' ORDER BY x::text), '')) "
                            f"FROM {t} x").fetchone() for t in TABLES}


def imp(conn, path, level, **kw):
    return import_grid_layer(conn, path=path, level=level, code_field="code", name_field="name",
                             parent_field=None if level == "district" else "parent", widths=WIDTHS, **kw)


def load_city(conn, folder, upto="grid"):
    for level, frame in (("district", city.district()), ("street", city.streets()),
                         ("community", city.communities()), ("grid", city.grids())):
        imp(conn, city.write(frame, folder, level), level)
        if level == upto:
            break
    conn.commit()


def run_cli(monkeypatch, url, *args):
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner().invoke(app, list(map(str, args)))


def test_cli_imports_a_foreign_city_in_utm_and_locates_in_it(bare_url, tmp_path, monkeypatch):
    files = {
        "district": city.write(city.district(), tmp_path, "district", "ESRI Shapefile"),
        "street": city.write(city.streets(), tmp_path, "street", "GeoJSON"),
        "community": city.write(city.communities(), tmp_path, "community", "GPKG"),
        "grid": city.write(city.grids(), tmp_path, "grid", "GPKG"),
    }
    for level, path in files.items():
        extra = [] if level == "district" else ["--parent-field", "parent"]
        result = run_cli(monkeypatch, bare_url, "grids", "import", path, "--level", level, "--code-field", "code",
                         "--name-field", "name", *extra)
        assert result.exit_code == 0, result.output
    result = run_cli(monkeypatch, bare_url, "grids", "release", "--activate")
    assert result.exit_code == 0, result.output
    with psycopg.connect(bare_url) as conn:
        # top-left grid of community C00 (south-west): 1 = top-left, 3 = bottom-left
        from pyproj import Transformer
        lon, lat = Transformer.from_crs(city.CRS, "EPSG:4326", always_xy=True).transform(city.X0 + 100, city.Y0 + 100)
        where = locate(conn, lon=lon, lat=lat)
        assert where.grid.code == "91010100100103" and where.district.name == "Testhausen"
        where = locate(conn, lon=city.X0 + 1900, lat=city.Y0 + 900, crs="32633")
        assert where.grid.code == "91010100200202" and where.street.name == "East"


def test_cli_failure_exits_nonzero_with_a_reason(bare_url, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "broken.geojson"
    bad.write_text("{ this is not json")
    monkeypatch.setenv("DATABASE_URL", bare_url)
    monkeypatch.setattr("sys.argv", ["citygrid", "grids", "import", str(bad), "--level", "district",
                                     "--code-field", "code", "--name-field", "name"])
    from citygrid.cli import main
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("citygrid: error: cannot read") and str(bad) in err


def test_a_file_that_is_not_a_layer_changes_nothing(bare_url, tmp_path):
    bad = tmp_path / "photo.gpkg"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with psycopg.connect(bare_url) as conn:
        before = snapshot(conn)
        with pytest.raises(GridFileError, match="cannot read"):
            imp(conn, bad, "district")
        conn.rollback()
        assert snapshot(conn) == before


def test_missing_field_is_named(bare_url, tmp_path):
    path = city.write(city.district(), tmp_path, "district")
    with psycopg.connect(bare_url) as conn:
        with pytest.raises(GridFileError, match="no field 'nom'.*code, name"):
            import_grid_layer(conn, path=path, level="district", code_field="code", name_field="nom", widths=WIDTHS)


def _broken(kind: str):
    """A community layer with one defect of the given kind, and what the message must say."""
    frame = city.communities()
    if kind == "invalid":
        frame.loc[0, "geometry"] = city.bowtie(city.X0, city.Y0)
        return frame, "91010100100.*invalid geometry: Self-intersection"
    if kind == "duplicate":
        frame.loc[1, "code"] = frame.loc[0, "code"]
        return frame, "code 910101001001 is used by 2 features"
    if kind == "unknown_parent":
        frame.loc[3, ["code", "parent"]] = ["910101009002", "910101009"]
        return frame, "910101009002 \\(C11\\) names parent '910101009'"
    if kind == "outside":
        frame.loc[0, "geometry"] = box(city.X0, city.Y0, city.X0 + 1200, city.Y0 + 500)
        return frame, "910101001001 \\(C00\\) lies outside its parent 910101001 \\(West\\): 100,0[0-9][0-9].[0-9] m²"
    if kind == "overlap":
        frame.loc[0, "geometry"] = box(city.X0, city.Y0, city.X0 + 1000, city.Y0 + 600)
        return frame, "910101001001 \\(C00\\) overlaps 910101001002 \\(C01\\): 100,0[0-9][0-9].[0-9] m² near lon"
    if kind == "gap":
        frame.loc[0, "geometry"] = box(city.X0, city.Y0, city.X0 + 1000, city.Y0 + 400)
        return frame, "a gap in the coverage of 910101001 \\(West\\): 100,0[0-9][0-9].[0-9] m² near lon"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["invalid", "duplicate", "unknown_parent", "outside", "overlap", "gap"])
def test_each_defect_is_rejected_by_name_and_changes_nothing(bare_url, tmp_path, kind):
    with psycopg.connect(bare_url) as conn:
        load_city(conn, tmp_path, upto="street")
        before = snapshot(conn)
        frame, message = _broken(kind)
        path = city.write(frame, tmp_path, f"bad_{kind}")
        with pytest.raises(GridValidationError, match=message) as err:
            imp(conn, path, "community")
        assert "nothing was imported" in str(err.value)
        conn.rollback()
        assert snapshot(conn) == before


def test_tiny_slivers_under_one_square_metre_are_tolerated(bare_url, tmp_path):
    frame = city.communities()
    frame.loc[0, "geometry"] = box(city.X0, city.Y0, city.X0 + 1000, city.Y0 + 499.9995)  # 1 km × 0.5 mm: 0.5 m² of gap
    with psycopg.connect(bare_url) as conn:
        load_city(conn, tmp_path, upto="street")
        assert imp(conn, city.write(frame, tmp_path, "sliver"), "community").feature_count == 4


def test_repair_fixes_invalid_geometry_and_reports_it(bare_url, tmp_path):
    from shapely.geometry import Polygon
    frame = city.district()
    spiky = Polygon([(city.X0, city.Y0), (city.X0 + 2000, city.Y0), (city.X0 + 2000, city.Y0 + 1000),
                     (city.X0 + 2100, city.Y0 + 1000), (city.X0, city.Y0 + 1000), (city.X0, city.Y0)])
    frame.loc[0, "geometry"] = spiky  # a spike along the top edge: self-intersection
    path = city.write(frame, tmp_path, "spiky")
    with psycopg.connect(bare_url) as conn:
        with pytest.raises(GridValidationError, match="invalid geometry"):
            imp(conn, path, "district")
        conn.rollback()
        result = imp(conn, path, "district", repair=True)
        assert result.repaired and "repaired 910101 (Testhausen)" in result.repaired[0]


def test_reimport_makes_a_new_version_and_release_switch_is_atomic(bare_url, tmp_path):
    with psycopg.connect(bare_url) as conn:
        load_city(conn, tmp_path)
        first = create_release(conn, activate=True)
        renamed = city.grids()
        renamed["name"] = renamed["name"] + " (2027)"
        assert imp(conn, city.write(renamed, tmp_path, "grid2027"), "grid").version == 2
        second = create_release(conn, name="2027 grids")
        conn.commit()
        x, y = city.X0 + 100, city.Y0 + 100
        assert locate(conn, lon=x, lat=y, crs="32633").release_id == first
        activate_release(conn, release_id=second)
        conn.commit()
        where = locate(conn, lon=x, lat=y, crs="32633")
        assert where.release_id == second and where.grid.name.endswith("(2027)")
        assert conn.execute("SELECT count(*) FROM grid_release WHERE is_active").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM grid_release").fetchone()[0] == 2


def test_child_level_needs_its_parent_level(bare_url, tmp_path):
    with psycopg.connect(bare_url) as conn:
        with pytest.raises(Conflict, match="import the community level before the grid level"):
            imp(conn, city.write(city.grids(), tmp_path, "grid"), "grid")


def test_zones_overlap_freely_and_are_located(bare_url, tmp_path):
    import geopandas as gpd
    park = gpd.GeoDataFrame({"code": ["P1", "P2"], "name": ["Stadtpark", "<b>Ufer</b>"]},
                            geometry=[box(city.X0 + 800, city.Y0 + 300, city.X0 + 1300, city.Y0 + 700),
                                      box(city.X0 + 900, city.Y0 + 400, city.X0 + 1100, city.Y0 + 600)], crs=city.CRS)
    with psycopg.connect(bare_url) as conn:
        load_city(conn, tmp_path)
        create_release(conn, activate=True)
        import_zone_layer(conn, path=city.write(park, tmp_path, "parks"), layer="parks", code_field="code",
                          name_field="name")
        where = locate(conn, lon=city.X0 + 1000, lat=city.Y0 + 500, crs="32633")
        assert [(z["layer"], z["code"]) for z in where.zones] == [("parks", "P1"), ("parks", "P2")]
        assert locate(conn, lon=city.X0 + 100, lat=city.Y0 + 100, crs="32633").zones == []
        dup = park.assign(code=["P1", "P1"])
        before = snapshot(conn)
        with pytest.raises(GridValidationError, match="code P1 is used by 2 features"):
            import_zone_layer(conn, path=city.write(dup, tmp_path, "dup"), layer="parks", code_field="code",
                              name_field="name")
        assert snapshot(conn) == before
