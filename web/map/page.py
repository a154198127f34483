"""Build the map page with folium, pointing every JS/CSS link at files the app serves."""
from __future__ import annotations

from html import escape

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

VENDOR = "/static/vendor"
OWN = "/static/map"

LAYER_STYLE = {
    "streets": {"color": "#b71c1c", "weight": 3, "fill": False},
    "communities": {"color": "#1565c0", "weight": 1.5, "fillOpacity": 0.03},
    "grids": {"color": "#607d8b", "weight": 0.6, "fillOpacity": 0.0, "dashArray": "2 3"},
}


class OfflineMap(folium.Map):
    """folium.Map whose default assets are the app's own copies (no CDN, no jQuery, no Bootstrap)."""

    default_js = [("leaflet", f"{VENDOR}/leaflet/leaflet.js")]
    default_css = [("leaflet_css", f"{VENDOR}/leaflet/leaflet.css"),
                   ("cluster_css", f"{VENDOR}/markercluster/MarkerCluster.css"),
                   ("cluster_default_css", f"{VENDOR}/markercluster/MarkerCluster.Default.css"),
                   ("citygrid_css", f"{OWN}/map.css")]


class Wiring(MacroElement):
    """Hands the folium-made layers to citygrid.js, which binds text-only tooltips and popups."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            {% if this.meta.dashboard %}<script src="{{ this.vendor }}/echarts/echarts.min.js"></script>{% endif %}
            <script src="{{ this.vendor }}/markercluster/leaflet.markercluster.js"></script>
            <script src="{{ this.vendor }}/heat/leaflet-heat.js"></script>
            <script src="{{ this.own }}/view.js"></script>
            <script src="{{ this.own }}/dashboard.js"></script>
            <script src="{{ this.own }}/filters.js"></script>
            <script src="{{ this.own }}/panels.js"></script>
            <script src="{{ this.own }}/labels.js"></script>
            {% if this.meta.screen %}<link rel="stylesheet" href="{{ this.own }}/screen.css">
            <script src="{{ this.own }}/screen.js"></script>{% endif %}
            <script src="{{ this.own }}/citygrid.js"></script>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            citygrid.init({{ this.map.get_name() }}, {
            {% for key, layer in this.layers.items() %}
                {{ key|tojson }}: {{ layer.get_name() }},
            {% endfor %}
            }, {{ this.meta|tojson }}, {{ this.control.get_name() if this.control else "null" }});
        {% endmacro %}
        """
    )

    def __init__(self, fmap: folium.Map, layers: dict, meta: dict, control) -> None:
        super().__init__()
        self._name = "CitygridWiring"
        self.control = control
        self.map, self.layers, self.meta, self.own, self.vendor = fmap, layers, meta, OWN, VENDOR


def build_map(
    *, layers: dict[str, dict], bounds: list | None, tile_url: str, tile_attribution: str,
    title: str, dashboard: bool = False, timezone: str = "Asia/Shanghai", gcj02: bool = False, case_limit: int = 1000,
    header: str = "", lang: str = "zh-CN", texts: dict | None = None, screen: bool = False,
    labels: dict | None = None,
) -> str:
    """Render the whole page: grid layers as GeoJSON, an empty case layer that citygrid.js fills from
    /api/map/cases as the view moves (case_limit 0: no case layer), a layer control, offline assets.
    Grid shading by open and overdue cases is drawn by citygrid.js from the grids' `open`/`overdue` properties."""
    fmap = OfflineMap(location=[23.01, 113.08], zoom_start=12, tiles=None, control_scale=not screen,
                      prefer_canvas=False, zoom_control=not screen)  # the wall screen has no controls
    fmap.options["maxZoom"] = 19  # no tile layer to set it, and clustering needs it
    texts = texts or {}

    def title_of(key: str) -> str:  # the layer list's names, in the page language (mp_layer_*)
        return texts.get(f"mp_layer_{key}", key)

    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=tile_attribution or " ", name=title_of("base")).add_to(fmap)
    made = {}
    for key in ("streets", "communities", "grids"):
        made[key] = folium.GeoJson(layers[key], name=title_of(key),
                                   style_function=lambda _f, s=LAYER_STYLE[key]: s, smooth_factor=0.5).add_to(fmap)
    if case_limit:
        made["cases"] = folium.GeoJson(
            {"type": "FeatureCollection", "features": []}, name=title_of("cases"),
            marker=folium.CircleMarker(radius=7, weight=2, color="#ffffff", fill=True, fill_color="#e65100",
                                       fill_opacity=0.9),
        ).add_to(fmap)
    control = None if screen else folium.LayerControl(collapsed=False).add_to(fmap)
    # citygrid.js fits the district into the part of the map no panel covers (bounds with padding)
    meta = {"title": title, "counts": {k: len(v["features"]) for k, v in layers.items()},
            "dashboard": dashboard, "timezone": timezone, "gcj02": gcj02, "caseLimit": case_limit,
            "bounds": bounds, "texts": texts, "header": bool(header), "screen": screen,
            "labels": labels or {}}
    root = fmap.get_root()
    if header:  # rendered (and escaped) by the pages' own header template
        root.html.add_child(Element(header), index=0)
    root.add_child(Wiring(fmap, made, meta, control))
    root.title = escape(title)  # branca writes <title> unescaped; district names come from grid files
    html = _with_lang(root.render(), lang)
    return html.replace("<body>", '<body class="citygrid-screen">', 1) if screen else html


def _with_lang(html: str, lang: str) -> str:
    """branca writes a bare <html>: give it the page language (screen readers, axe's html-has-lang)."""
    return html.replace("<html>", f'<html lang="{escape(lang)}">', 1)
