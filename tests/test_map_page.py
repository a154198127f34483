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
