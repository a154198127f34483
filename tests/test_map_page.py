"""The rendered map page links no asset outside the app."""
import re

from web.map.page import build_map

EMPTY = {"type": "FeatureCollection", "features": []}


def test_page_links_only_local_assets():
    html = build_map(layers={k: EMPTY for k in ("streets", "communities", "grids")}, cases=EMPTY, bounds=None,
                     tile_url="", tile_attribution="", title="t")
    links = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith("/static/") for link in links), links
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_tile_url_is_a_setting():
    html = build_map(layers={k: EMPTY for k in ("streets", "communities", "grids")}, cases=EMPTY, bounds=None,
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
