"""GET /map and the layer GeoJSON behind it."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dispatch.actor import can_read, scope_filter

from events import repo as events_repo
from gis import repo as gis_repo
from gis.errors import NoActiveRelease, NotFound
from gis.models import LEVELS
from web.accounts import Unauthenticated
from web.api_admin import READERS_OF_STATISTICS
from web.deps import Config, Conn, CurrentActor, request_actor
from web.map.page import build_map
from web.map.shift import to_gcj02

router = APIRouter()
LAYER_KEYS = {"streets": "street", "communities": "community", "grids": "grid", "district": "district"}


@router.get("/map", response_class=HTMLResponse)
def map_page(conn: Conn, config: Config, request: Request):
    """The shared map: streets, communities, unit grids and the cases the signed-in user may see."""
    try:
        actor = request_actor(request)
    except Unauthenticated:
        return RedirectResponse("/login?next=/map", status_code=303)
    ids = _active(conn)
    layers = {key: gis_repo.layer_geojson(conn, layer_id=ids[level]) for key, level in LAYER_KEYS.items()}
    district = layers.pop("district")
    load = events_repo.grid_load(conn, **scope_filter(actor))
    for feature in layers["grids"]["features"]:
        feature["properties"]["open"], feature["properties"]["overdue"] = load.get(feature["properties"]["code"],
                                                                                   (0, 0))
    cases = cases_geojson(conn, limit=config.map_case_limit, actor=actor)
    if config.tile_crs == "gcj02":  # the base map is drawn in GCJ-02: move our layers onto it
        layers = {key: to_gcj02(layer) for key, layer in layers.items()}
        district, cases = to_gcj02(district), to_gcj02(cases)
    html = build_map(
        layers=layers, cases=cases, bounds=_bounds(district), gcj02=config.tile_crs == "gcj02",
        tile_url=config.tile_url, tile_attribution=config.tile_attribution,
        title=" · ".join(f["properties"]["name"] for f in district["features"]) + " — citygrid 一张图",
        dashboard=bool(actor.roles & READERS_OF_STATISTICS), timezone=config.timezone,
    )
    return HTMLResponse(html)


@router.get("/api/layers/{level}")
def layer(conn: Conn, actor: CurrentActor, level: str) -> dict:
    """One level of the active release as GeoJSON (district, street, community or grid)."""
    if level not in LEVELS:
        raise NotFound(f"no layer {level!r}: use one of {', '.join(LEVELS)}")
    return gis_repo.layer_geojson(conn, layer_id=_active(conn)[level])


def cases_geojson(conn, *, limit: int, actor) -> dict:
    """The newest cases the actor may see, as a FeatureCollection of points."""
    rows = [c for c in events_repo.map_cases(conn, limit=limit, **scope_filter(actor)) if can_read(actor, c)]
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(c["lon"], 6), round(c["lat"], 6)]},
         "properties": {"id": c["id"], "status": c["status"], "category": f"{c['category_code']} {c['category_name']}",
                        "description": c["description"], "grid": c["grid_code"],
                        "created_at": f"{c['created_at']:%Y-%m-%d %H:%M}",
                        "department": c["department_code"] or "", "street": c["street_code"],
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
