"""The rendered map page links no asset outside the app."""
import re

from web.map.page import build_map

EMPTY = {"type": "FeatureCollection", "features": []}


def test_page_links_only_local_assets():
    html = build_map(layers={k: EMPTY for k in ("streets", "communities", "grids")}, bounds=None,
                     tile_url="", tile_attribution="", title="t")
    links = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith("/static/") for link in links), links
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_tile_url_is_a_setting():
    html = build_map(layers={k: EMPTY for k in ("streets", "communities", "grids")}, bounds=None,
                     tile_url="http://tiles.intranet/{z}/{x}/{y}.png", tile_attribution="intranet", title="t")
    assert "http://tiles.intranet/{z}/{x}/{y}.png" in html


def test_base_map_presets():
    import pytest

    from citygrid.settings import Settings
    assert Settings().base_map() == ("", "")  # the default works with no internet
    assert Settings(tiles="osm").base_map()[0] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    url, credit = Settings(tiles="tianditu", tianditu_key="abc").base_map()
    assert "tk=abc" in url and "{x}" in url and "l={z}" in url and "天地图" in credit
    with pytest.raises(ValueError, match="needs CITYGRID_TIANDITU_KEY"):
        Settings(tiles="tianditu").base_map()
    assert Settings(tiles="custom", tile_url="http://tiles.intranet/{z}/{x}/{y}.png").base_map()[0].startswith("http")


def test_a_gcj02_base_map_shifts_every_layer_and_case(chancheng_url, tmp_path):
    import psycopg
    from fastapi.testclient import TestClient

    from citygrid.app import build_app
    from citygrid.settings import Settings
    from dispatch.intake.service import submit_report
    from dispatch.models import Policy
    from gis.crs import wgs84_to_gcj02
    from tests.people import actor, add_cast, bearer

    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["leader", "officer"])
        for _ in range(2):
            submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                          lat=23.02)
        conn.commit()
    pages, points, cells = {}, {}, {}
    view = "/api/map/cases?west=112.9&south=22.9&east=113.3&north=23.2&zoom=12"
    for crs in ("wgs84", "gcj02"):
        for limit, found in ((10, points), (1, cells)):  # beyond the limit (1 of 2) the view gives cells
            settings = Settings(database_url=chancheng_url, media_root=str(tmp_path), tiles="custom",
                                tile_url="http://tiles.intranet/{z}/{x}/{y}.png", tile_crs=crs,
                                map_case_limit=limit)
            with TestClient(build_app(settings)) as client:
                pages[crs] = client.get("/map", headers=bearer(tokens["leader"])).text
                found[crs] = client.get(view, headers=bearer(tokens["leader"])).json()
    assert [p["mode"] for p in points.values()] == ["points", "points"]
    plain = points["wgs84"]["features"][0]["geometry"]["coordinates"]
    shifted = points["gcj02"]["features"][0]["geometry"]["coordinates"]
    x, y = wgs84_to_gcj02(plain[0], plain[1])
    assert abs(shifted[0] - float(x)) < 1e-6 and abs(shifted[1] - float(y)) < 1e-6
    assert 0.003 < shifted[0] - plain[0] < 0.008  # Chancheng's GCJ-02 offset is a few hundred metres east
    assert [c["mode"] for c in cells.values()] == ["cells", "cells"]
    plain, shifted = cells["wgs84"]["cells"][0], cells["gcj02"]["cells"][0]
    assert plain["count"] == shifted["count"] == 2
    for xk, yk in (("lon", "lat"), ("west", "south"), ("east", "north")):
        x, y = wgs84_to_gcj02(plain[xk], plain[yk])
        assert abs(shifted[xk] - float(x)) < 1e-6 and abs(shifted[yk] - float(y)) < 1e-6
    # the page's own layers: every grid vertex moved the same way
    assert '"gcj02": true' in pages["gcj02"] and '"gcj02": false' in pages["wgs84"]
    vertex = r'"coordinates": \[\[\[\[?([0-9.]+), ([0-9.]+)\]'
    plain = [float(v) for v in re.search(vertex, pages["wgs84"]).groups()]
    shifted = [float(v) for v in re.search(vertex, pages["gcj02"]).groups()]
    x, y = wgs84_to_gcj02(plain[0], plain[1])
    assert abs(shifted[0] - float(x)) < 1e-6 and abs(shifted[1] - float(y)) < 1e-6
