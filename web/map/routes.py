"""GET /map and the layer GeoJSON behind it."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from dispatch.actor import can_read, scope_filter
from dispatch.permissions import may
from dispatch.reporting.mapview import Box, most_urgent, view
from dispatch.reporting.rollups import grid_load as rollup_grid_load

from dispatch.accounts import Unauthenticated
from events import repo as events_repo
from gis import repo as gis_repo
from gis.errors import NoActiveRelease
from gis.models import LEVELS
from web.deps import Config, Conn, CurrentActor, CurrentPolicy, actor_of
from web.map.header import header_html, page_lang, texts
from web.map.shift import points_to_gcj02, to_gcj02
from web.schemas import Filters
from web.security import script_nonce, with_nonce

router = APIRouter()
LAYER_KEYS = {"streets": "street", "communities": "community", "grids": "grid", "district": "district"}


@router.get("/map", response_class=HTMLResponse, responses={303: {"description": "not signed in: to the sign-in form"}})
def map_page(conn: Conn, config: Config, request: Request):
    """The shared map: streets, communities, unit grids and the cases the signed-in user may see."""
    return _map_page(conn, config, request, screen=False)


@router.get("/screen", response_class=HTMLResponse,
            responses={303: {"description": "not signed in: to the sign-in form"}})
def screen_page(conn: Conn, config: Config, request: Request):
    """指挥大屏: the map of /map for a wall (dark, no controls, live changes pulse), with today's figures, rankings,
    the most overdue cases and the trend for those who read statistics. Whoever may open /map may open it."""
    return _map_page(conn, config, request, screen=True)


def _map_page(conn, config, request: Request, *, screen: bool):
    try:
        actor = actor_of(request, conn)
    except Unauthenticated:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    ids = _active(conn)
    layers = {key: gis_repo.layer_geojson(conn, layer_id=ids[level]) for key, level in LAYER_KEYS.items()}
    district = layers.pop("district")
    load = rollup_grid_load(conn, **scope_filter(actor))
    for feature in layers["grids"]["features"]:
        feature["properties"]["open"], feature["properties"]["overdue"] = load.get(feature["properties"]["code"],
                                                                                   (0, 0))
    labels = {key: gis_repo.label_points(conn, layer_id=ids[LAYER_KEYS[key]]) for key in ("streets", "communities")}
    if config.tile_crs == "gcj02":  # the base map is drawn in GCJ-02: move our layers onto it
        layers = {key: to_gcj02(layer) for key, layer in layers.items()}
        district = to_gcj02(district)
        for points in labels.values():
            for p, (x, y) in zip(points, points_to_gcj02([p["lon"] for p in points], [p["lat"] for p in points])):
                p["lon"], p["lat"] = x, y
    from web.map.page import build_map  # imports folium: here, not when a server process starts

    lang = page_lang(request)
    html = build_map(
        layers=layers, bounds=_bounds(district), gcj02=config.tile_crs == "gcj02",
        tile_url=config.tile_url, tile_attribution=config.tile_attribution,
        title=" · ".join(f["properties"]["name"] for f in district["features"]) + " — citygrid 一张图",
        dashboard=may(actor, "read_dashboard"), timezone=config.timezone,
        case_limit=config.map_case_limit, lang=lang, texts=texts(lang), screen=screen,
        header="" if screen else header_html(request, conn, actor), labels=labels,
    )
    return HTMLResponse(with_nonce(html, script_nonce(request)))  # folium's inline scripts run with the nonce


def view_box(config: Config,
             west: float = Query(ge=-180, le=180), south: float = Query(ge=-90, le=90),
             east: float = Query(ge=-180, le=180, description="more than west"),
             north: float = Query(ge=-90, le=90, description="more than south")) -> Box:
    """The map's view as a box in WGS84. On a GCJ-02 base map the view is in GCJ-02, and the offset is under 0.01°
    in China, so the box padded by that much holds every case in view."""
    box = Box(west, south, east, north)
    return box.padded(0.01) if config.tile_crs == "gcj02" else box


ViewBox = Annotated[Box, Depends(view_box)]


def map_features(config, actor, rows: list[dict]) -> list[dict]:
    """Case rows the reader may see as point features in the map's system (GCJ-02 on a GCJ-02 base map)."""
    cases = case_features([c for c in rows if can_read(actor, c)])
    return (to_gcj02(cases) if config.tile_crs == "gcj02" else cases)["features"]


@router.get("/api/map/cases")
def map_cases(
    conn: Conn, config: Config, actor: CurrentActor, policy: CurrentPolicy, filters: Filters, box: ViewBox,
    zoom: int = Query(ge=0, le=22, description="the map's zoom level: it sets the size of the cells"),
) -> dict:
    """The cases in a map view that the reader may see: each case when at most CITYGRID_MAP_CASE_LIMIT match,
    otherwise counts per cell (`mode: cells`). Coordinates are in the map's system (GCJ-02 on a GCJ-02 base map)."""
    gcj02 = config.tile_crs == "gcj02"
    found = view(conn, box=box, zoom=zoom, filters=filters,
                 scope=scope_filter(actor), me=actor.username, limit=config.map_case_limit, tz=policy.tz)
    if found["mode"] == "points":
        features = map_features(config, actor, found.pop("cases"))
        return _json({**found, "total": len(features), "features": features})
    cells = found["cells"]
    if gcj02 and cells:
        for ends in (("lon", "lat"), ("west", "south"), ("east", "north")):
            shifted = points_to_gcj02([c[ends[0]] for c in cells], [c[ends[1]] for c in cells])
            for c, (x, y) in zip(cells, shifted):
                c[ends[0]], c[ends[1]] = x, y
    for c in cells:  # 0.1 m is enough for a marker and a zoom box, and halves the bytes of a big view
        for key in ("lon", "lat", "west", "south", "east", "north"):
            c[key] = round(c[key], 6)
    return _json(found)


@router.get("/api/map/urgent")
def map_urgent(
    conn: Conn, config: Config, actor: CurrentActor, policy: CurrentPolicy, filters: Filters, box: ViewBox,
    order: Literal["soonest", "latest"] = Query(default="soonest", description="by deadline"),
    limit: int = Query(default=200, ge=1, le=500),
) -> dict:
    """The cases a department holds in a map view that the reader may see, by deadline: the map's case list when
    the view has more cases than it lists one by one."""
    rows = most_urgent(conn, box=box, filters=filters, scope=scope_filter(actor), me=actor.username,
                       tz=policy.tz, limit=limit, latest_first=order == "latest")
    return _json({"features": map_features(config, actor, rows)})


def _json(body: dict) -> JSONResponse:
    """Plain JSON of ints, floats and strings, without FastAPI's encoder (a third of a big view's time)."""
    return JSONResponse(body)


@router.get("/api/map/grid-load")
def grid_load(conn: Conn, actor: CurrentActor) -> dict:
    """Open and overdue cases per unit grid, within the reader's scope: {grid code: [open, overdue]}."""
    return _json({code: list(counts) for code, counts in rollup_grid_load(conn, **scope_filter(actor)).items()})


@router.get("/api/layers/{level}")
def layer(conn: Conn, actor: CurrentActor, level: Literal[LEVELS]) -> dict:
    """One level of the active release as GeoJSON (district, street, community or grid)."""
    return gis_repo.layer_geojson(conn, layer_id=_active(conn)[level])


def cases_geojson(conn, *, limit: int, actor) -> dict:
    """The newest cases the actor may see, as a FeatureCollection of points."""
    return case_features([c for c in events_repo.map_cases(conn, limit=limit, **scope_filter(actor))
                          if can_read(actor, c)])


def case_features(rows: list[dict]) -> dict:
    """Case rows as a FeatureCollection of points with the properties the maps' popups show."""
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(c["lon"], 6), round(c["lat"], 6)]},
         "properties": {"id": c["id"], "status": c["status"], "category": f"{c['category_code']} {c['category_name']}",
                        "description": c["description"], "grid": c["grid_code"],
                        "created_at": f"{c['created_at']:%Y-%m-%d %H:%M}",
                        "department": c["department_code"] or "",
                        "department_name": c.get("department_name") or c["department_code"] or "",
                        "street": c["street_code"],
                        "deadline": f"{c['deadline']:%Y-%m-%d %H:%M}" if c["deadline"] else "",
                        "light": c["light"] or ""}}
        for c in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def _active(conn) -> dict:
    ids = gis_repo.active_layer_ids(conn)
    if ids is None:
        raise NoActiveRelease("no grid release is active: import grids and run `citygrid grids release --activate`")
    return ids


def _bounds(district: dict) -> list | None:
    xs, ys = [], []
    for feature in district["features"]:
        for poly in feature["geometry"]["coordinates"]:
            for x, y in poly[0]:
                xs.append(x)
                ys.append(y)
    return [[min(ys), min(xs)], [max(ys), max(xs)]] if xs else None
