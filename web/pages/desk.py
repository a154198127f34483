"""The work pages: the department's queue, the dispatch desk and the case page.

The pages hold no case data of their own beyond what the reader may see: lists and actions go through the JSON API
(web/api.py, web/api_cases.py) from web/pages/static/desk.js; the server adds only the page's settings (texts,
the workflow table, the actions open to this user) as JSON that the template escapes.
"""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dispatch.actor import Actor, role_covers
from dispatch.casework.cases import may_verify
from dispatch.casework.workflow import STEPS, WITH_DEPARTMENT, actions_from
from dispatch.permissions import may
from dispatch.roles import SYSTEM_ROLE
from dispatch.routing import repo as dispatch_repo
from events.errors import CaseNotFound
from gis import repo as gis_repo
from web.api import readable_case
from web.deps import Config, Conn
from web.map.routes import cases_geojson
from web.pages.common import env, layout, page_actor, page_lang, render
from web.pages.i18n import TEXT, translator
from web.schemas import MAX_ID, MAX_NOTE

router = APIRouter(include_in_schema=False)

# The desk's sections and the roles that can act on what each lists.
SECTIONS = {
    "dispatch": frozenset({"dispatcher", "intake"}),
    "verify": frozenset({"dispatcher", "intake"}),
    "duplicates": frozenset({"dispatcher", "intake"}),
    "extensions": frozenset({"shift_leader"}),
    "close": frozenset({"shift_leader"}),
}

# The workflow as the browser needs it: which status each action starts from, who may take it, what it needs.
STEP_TABLE = {
    step.action: {"sources": list(step.sources), "roles": sorted(step.roles - {SYSTEM_ROLE}),
                  "reason": step.needs_reason, "photo": step.needs_photo}
    for step in STEPS.values() if step.roles - {SYSTEM_ROLE}
}

AROUND = 0.006  # degrees (about 600 m) of grid outlines drawn around the cases on a small map

NOTICE = env.from_string("""{% extends "base.html" %}
{% block title %}{{ heading }} · {{ t("app") }}{% endblock %}
{% block main %}<h1>{{ heading }}</h1><div class="cg-card" id="notice"><p>{{ message }}</p>
<p><a href="/">{{ t("d_back_home") }}</a></p></div>{% endblock %}""")


def page_settings(request: Request, actor: Actor, **extra) -> dict:
    """What desk.js needs: the texts in the page language, the workflow table and the reader's roles."""
    t = translator(page_lang(request))
    return {"text": {key: t(key) for key in TEXT if key.startswith("d_")}, "steps": STEP_TABLE,
            "roles": sorted(actor.roles), "user": actor.username, "note_max": MAX_NOTE, **extra}


def notice(request: Request, actor: Actor, *, status: int, heading: str, message: str) -> HTMLResponse:
    """A page that only says something (no access, no such case), in the shared layout."""
    shared = layout(request, actor)
    t = shared["t"]
    html = NOTICE.render(**shared, heading=t(heading), message=t(message))
    return HTMLResponse(html, status_code=status)


@router.get("/queue")
def queue_page(request: Request, conn: Conn, config: Config):
    """A department's cases (handler, dept_head): sign for them, report back, give back, ask for more time."""
    actor = page_actor(request, conn)
    if not may(actor, "work_the_queue"):
        return notice(request, actor, status=403, heading="queue", message="d_only_department")
    points = cases_geojson(conn, limit=config.map_case_limit, actor=actor)
    points["features"] = [f for f in points["features"] if f["properties"]["status"] in WITH_DEPARTMENT]
    xys = [f["geometry"]["coordinates"] for f in points["features"]]
    settings = page_settings(request, actor, points=points, grids=grids_around(conn, xys), **map_settings(config))
    return render(request, actor, "queue.html", settings=settings, department=department_of(conn, actor))


def map_settings(config) -> dict:
    """The base map of the small maps (none offline) and the system it is drawn in."""
    return {"tile_url": config.tile_url, "tile_attribution": config.tile_attribution, "map_crs": config.tile_crs}


def department_of(conn, actor: Actor) -> dict | None:
    """The reader's department as {code, name} (the name from the department table), if they belong to one."""
    found = [d for d in dispatch_repo.departments(conn) if d.code == actor.department_code]
    return {"code": found[0].code, "name": found[0].name} if found else None


def grids_around(conn, points: list, pad: float = AROUND) -> dict:
    """The unit grid outlines of the active release around some points (WGS84 [lon, lat]), for a small map."""
    ids = gis_repo.active_layer_ids(conn)
    if not points or ids is None:
        return {"type": "FeatureCollection", "features": []}
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return gis_repo.layer_geojson_in(conn, layer_id=ids["grid"], west=min(xs) - pad, south=min(ys) - pad,
                                     east=max(xs) + pad, north=max(ys) + pad)


@router.get("/desk")
def desk_page(request: Request, conn: Conn):
    """The dispatch desk (dispatcher, intake) and the shift leader's approvals, each section to its roles."""
    actor = page_actor(request, conn)
    if not may(actor, "work_the_desk"):
        return notice(request, actor, status=403, heading="desk", message="d_only_desk")
    sections = [name for name, roles in SECTIONS.items() if roles & actor.roles]
    return render(request, actor, "desk.html", sections=sections,
                  settings=page_settings(request, actor, sections=sections))


@router.get("/cases/{case_id}")
def case_page(request: Request, conn: Conn, config: Config, case_id: str):
    """One case for anyone who may read it: summary, history, photos, routing, and the actions open to them.

    The id is read here, not by the framework: a mistyped address (/cases/abc) gets this page's 404 notice,
    not the API's JSON 422."""
    actor = page_actor(request, conn)
    try:
        case = readable_case(conn, actor, case_number(case_id))
    except CaseNotFound:
        return notice(request, actor, status=404, heading="d_not_found", message="d_not_found_text")
    row = asdict(case) | {"id": case.id}
    actions = open_actions(conn, actor, row)
    settings = page_settings(request, actor, case_id=case.id, actions=actions, **map_settings(config),
                             grids=grids_around(conn, [[case.lon, case.lat]]))
    return render(request, actor, "case.html", case_id=case.id, settings=settings)


def case_number(text: str) -> int:
    """A case id from the address; CaseNotFound for anything that is not one (letters, 0, too large)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
        raise CaseNotFound(f"no case {text}")
    return int(text)


def open_actions(conn, actor: Actor, case: dict) -> list[str]:
    """The actions this actor may take on the case now: its status allows them and a role of theirs reaches it."""
    out = []
    for action in actions_from(case["status"]):
        roles = STEPS[action].roles & actor.roles
        verifying = action in ("register", "reject") and may_verify(conn, actor, case)
        if verifying or any(role_covers(actor, role, case) for role in roles):
            out.append(action)
    return out
