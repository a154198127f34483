"""Who may call what: every endpoint × every role, written out (not derived from the code), in one place.

tests/test_role_matrix.py asserts it in the normal suite; tests/drills/access.py runs it against `citygrid serve`
with scoped accounts, revoked and expired tokens, the live stream and the photos.

Allowed means the role gets past the role and scope checks: 2xx, or 409/422 from the case's state or the body.
Refused means 401 (no token), 403 (wrong role) or 404 (outside the scope: the case is not even confirmed).
"""
from __future__ import annotations

import io
import re

import psycopg
from PIL import Image

from dispatch.accounts import add_user
from dispatch.casework import case_repo
from dispatch.casework.cases import Request, act
from dispatch.casework.outbox import deliver
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from events.media import LocalMediaStore, clean_photo
from tests.people import actor, add_cast
from web.routes import api_routes

ROLES = {"grid_officer": "officer", "intake": "intake", "dispatcher": "dispatcher", "handler": "hws",
         "dept_head": "hws_head", "shift_leader": "shift", "leader": "leader", "admin": "admin"}
EVERYONE = frozenset(ROLES)
CENTRE = frozenset({"leader", "admin", "shift_leader", "dispatcher", "dept_head"})

# (method, path, body) → the roles allowed. {case}: a closed case in 祖庙 handled by 祖庙 环卫所 (S-012-HWS);
# {photo}: its report-back photo; {message}: a notification in the handler's inbox; {user}: an account no test
# signs in with (its password is reset, it is deactivated and activated again).
MATRIX = [
    ("get", "/api/me", None, EVERYONE),
    ("get", "/api/locate?lon=113.12&lat=23.02", None, EVERYONE),
    ("get", "/api/categories", None, EVERYONE),
    ("get", "/api/departments", None, EVERYONE),
    ("get", "/api/rules", None, EVERYONE),
    ("get", "/api/rules/history", None, EVERYONE),
    ("get", "/api/layers/street", None, EVERYONE),
    ("get", "/api/map/cases?west=112.9&south=22.9&east=113.3&north=23.2&zoom=12", None, EVERYONE),
    ("get", "/api/map/urgent?west=112.9&south=22.9&east=113.3&north=23.2", None, EVERYONE),
    ("get", "/api/map/grid-load", None, EVERYONE),
    ("get", "/api/inbox", None, EVERYONE),
    ("get", "/api/inbox/unread", None, EVERYONE),
    ("get", "/api/cases?queue=open", None, EVERYONE),
    ("get", "/api/reports/nearby?category=0102&lon=113.12&lat=23.02", None, EVERYONE),
    ("get", "/api/cases/{case}", None, EVERYONE),
    ("get", "/api/cases/{case}/routing", None, EVERYONE),
    ("get", "/api/cases/{case}/duplicates", None, EVERYONE),
    ("get", "/api/media/{photo}", None, EVERYONE),
    ("get", "/api/evaluation?period=2026-11", None, CENTRE),
    ("get", "/api/evaluation?period=2026-11&by=officer", None, {"leader"}),
    ("get", "/api/dashboard", None, CENTRE),
    ("get", "/api/export?format=csv", None, CENTRE),
    ("get", "/api/admin/calendar", None, {"admin"}),
    ("put", "/api/admin/calendar/2030", {"year": 2030, "days": [{"date": "2030-01-01", "kind": "holiday"}]},
     {"admin"}),
    ("post", "/api/admin/rules/check", {"rules": [{"name": "x", "recipient_kind": "department",
                                                   "department": "D-CGZF"}],
                                        "since": "2026-01-01T00:00:00+08:00", "until": "2026-02-01T00:00:00+08:00"},
     {"admin"}),
    ("post", "/api/admin/rules", {"name": "bad", "rules": [{"name": "x", "recipient_kind": "department",
                                                             "department": "NOPE"}]}, {"admin"}),
    ("post", "/api/reports", {"category": "0102", "lon": 116.4, "lat": 39.9},
     {"grid_officer", "intake", "dispatcher", "admin"}),
    ("post", "/api/media", b"not a photo", {"grid_officer", "handler", "dept_head"}),
    ("post", "/api/inbox/{message}/read", None, {"handler"}),
    ("post", "/api/admin/users/{user}/password", {}, {"admin"}),
    ("post", "/api/admin/users/{user}/deactivate", None, {"admin"}),
    ("post", "/api/admin/users/{user}/activate", None, {"admin"}),
    ("post", "/api/me/password", {"old_password": "whatever", "new_password": "short"}, EVERYONE),  # 422: too short
    *[("post", f"/api/cases/{{case}}/actions/{action}", {}, roles) for action, roles in [
        ("register", {"intake", "dispatcher", "grid_officer"}),
        ("await_verification", set()),
        ("reject", {"intake", "dispatcher", "grid_officer"}),
        ("merge", {"intake", "dispatcher"}),
        ("dispatch", {"dispatcher"}),
        ("accept", {"handler", "dept_head"}),
        ("return", {"handler", "dept_head"}),
        ("request_extension", {"handler", "dept_head"}),
        ("approve_extension", {"shift_leader"}),
        ("refuse_extension", {"shift_leader"}),
        ("handle", {"handler", "dept_head"}),
        ("check_ok", {"grid_officer"}),
        ("check_fail", {"grid_officer"}),
        ("close", {"shift_leader"}),
        ("reopen", {"shift_leader", "admin"}),
    ]],
]
REFUSED = {401, 403, 404}

# Open311 (/open311/v2/) does not look at accounts: reads are public (public categories only), a POST needs a
# client system's api_key. Each row: what anonymous callers and every role get, without and with a key.
# {photo} is the handle step's photo: never public, so 404 for everyone.
OPEN311 = [
    ("get", "/open311/v2/discovery.json", 200, 200),
    ("get", "/open311/v2/services.xml", 200, 200),
    ("get", "/open311/v2/services/0102.json", 200, 200),
    ("get", "/open311/v2/requests.json", 200, 200),
    ("get", "/open311/v2/requests/{case}.xml", 200, 200),
    ("get", "/open311/v2/tokens/unknown.json", 404, 404),
    ("get", "/open311/v2/media/{photo}", 404, 404),
    ("post", "/open311/v2/requests.json", 403, 200),
]

# The pages (HTML): who gets the page itself; anyone else gets a 403 page (or 404 for a case), and a stranger is sent
# to sign in. "/" sends everyone on to their own first page (303). The one list of the signed-in pages: the XSS
# drill (tests/drills/xss.py) opens each for every role listed, and tests/test_role_matrix.py checks that every
# HTML route of the app is here or in OPEN_PAGES.
PAGES = [
    ("get", "/", None, EVERYONE),
    ("get", "/map", None, EVERYONE),
    ("get", "/screen", None, EVERYONE),
    ("get", "/inbox", None, EVERYONE),
    ("get", "/cases/{case}", None, EVERYONE),
    ("get", "/queue", None, {"handler", "dept_head"}),
    ("get", "/desk", None, {"dispatcher", "intake", "shift_leader"}),
    ("get", "/m", None, {"grid_officer"}),
    ("get", "/m/mine", None, {"grid_officer"}),
    ("get", "/m/tasks", None, {"grid_officer"}),
]
PAGE_REFUSED = {403, 404}

# Endpoints anyone may call without an account (sign-in and sign-out themselves, the health check, the API's own
# documentation pages, as FastAPI serves them by default), and the live
# stream (every signed-in role; filtered per case: tests/drills/access.py checks who gets which event).
# The pages anyone may open without an account (the XSS drill opens them as a stranger).
OPEN_PAGES = [("get", "/login"), ("get", "/docs")]
OPEN_ONES = {("GET", "/api/health"), ("POST", "/api/tokens"), ("DELETE", "/api/tokens/current"),
             ("POST", "/login"), ("POST", "/logout"), *((m.upper(), p) for m, p in OPEN_PAGES)}
STREAMS = {("GET", "/api/events")}


# Values for the path parameters of routes found in the app's route table (anything else: 1).
PARAMS = {"year": "2030", "level": "street", "action": "register", "code": "0102", "fmt": "json", "token": "unknown"}


def concrete(route: str, ids: dict) -> str:
    """A route template of the app with its parameters filled in: seed()'s case, photo and message, or PARAMS."""
    values = {"case_id": ids["case"], "media_id": ids["photo"], "message_id": ids["message"],
              "request_id": ids["case"], **PARAMS}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 1)), route)


def route_of(method: str, path: str) -> tuple[str, str]:
    """A matrix row's (METHOD, route template) as the app names it."""
    path = (path.split("?")[0].replace("{case}", "{case_id}").replace("{photo}", "{media_id}")
            .replace("{message}", "{message_id}").replace("{user}", "{username}").replace("/2030", "/{year}")
            .replace("/street", "/{level}"))
    if "/actions/" in path:
        path = path.rsplit("/", 1)[0] + "/{action}"
    if path.startswith("/open311/"):
        path = (path.replace("{case_id}", "{request_id}").replace("/0102.json", "/{code}.{fmt}")
                .replace("/unknown.json", "/{token}.{fmt}").replace(".json", ".{fmt}").replace(".xml", ".{fmt}"))
    return method.upper(), path


def app_routes(app) -> set[tuple[str, str]]:
    """Every (METHOD, path) the app answers, from its own route table (so a new endpoint joins by existing)."""
    return {(m, r.path) for r in api_routes(app) for m in r.methods if m != "HEAD"}


def html_routes(app) -> set[tuple[str, str]]:
    """The app's page routes: GETs outside the OpenAPI (the pages, sign-in, the API docs) or answering HTML."""
    from fastapi.responses import HTMLResponse
    return {("GET", r.path) for r in api_routes(app) if "GET" in r.methods
            and (not r.include_in_schema or isinstance(r.response_class, type) and
                 issubclass(r.response_class, HTMLResponse))}


def listed_pages() -> set[tuple[str, str]]:
    """The pages PAGES and OPEN_PAGES name, as the app names their routes."""
    return {route_of(m, p) for m, p, *_ in [*PAGES, *OPEN_PAGES]}


def unlisted(app) -> set[tuple[str, str]]:
    """Routes of the app that neither the matrix, the pages, Open311 nor the open ones name."""
    listed = {route_of(m, p) for m, p, *_ in [*MATRIX, *PAGES, *OPEN311]}
    return app_routes(app) - listed - OPEN_ONES - STREAMS


def right_answer(role: str, allowed, method: str, status: int) -> bool:
    """Whether a matrix row's status is what the table says for this role."""
    if role in allowed:
        return status not in REFUSED and status < 500 and (method != "get" or status == 200)
    return status in REFUSED


def right_page(role: str, allowed, path: str, status: int) -> bool:
    """Whether a page answered as PAGES says for this role (a stranger: a redirect to sign in)."""
    if role in allowed:
        return status == (303 if path == "/" else 200)
    return status in PAGE_REFUSED


def call(client, method, path, body, headers):
    """One request of a matrix row (TestClient or httpx.Client), without following redirects."""
    if isinstance(body, bytes):
        return client.request(method, path, content=body, headers=headers, follow_redirects=False)
    return client.request(method, path, json=body, headers=headers, follow_redirects=False)


def png(colour: str = "green") -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(picture, "PNG")
    return picture.getvalue()


def store_photo(conn, media_root, *, uploaded_by: str, colour: str = "green") -> int:
    """A photo stored in the media folder and recorded as `uploaded_by`'s upload (as POST /api/media does)."""
    stored = clean_photo(png(colour))
    key = LocalMediaStore(media_root).put(stored)
    return case_repo.insert_attachment(conn, storage_key=key, content_type=stored.content_type,
                                       size_bytes=len(stored.content), width=4, height=3, sha256=stored.sha256,
                                       uploaded_by=uploaded_by)


def seed(conn: psycopg.Connection, media_root) -> tuple[dict, dict]:
    """The cast (tests/people.py) and what the matrix's paths name: {case} a closed case in 祖庙 handled by
    S-012-HWS, {photo} its report-back photo, {message} a notification in the handler's inbox, {user} an account
    for the administrator to manage. Commits."""
    tokens = add_cast(conn)
    add_user(conn, username="matrix_target", roles=["intake"])
    case_id = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                            lat=23.02).case_id
    photo = store_photo(conn, media_root, uploaded_by="hws")
    for action, who, request in (("accept", "hws", Request()),
                                 ("handle", "hws", Request(note="done", attachments=[photo])),
                                 ("check_ok", "officer", Request()), ("close", "shift", Request())):
        act(conn, case_id=case_id, action=action, actor=actor(who), policy=Policy(), request=request)
    case_repo.notify(conn, kind="case", payload={"case_id": case_id, "to": {"roles": ["handler"],
                     "department": "S-012-HWS"}, "subject": "for the matrix"})
    deliver(conn)
    message = conn.execute("SELECT m.id FROM inbox_message m JOIN app_user u ON u.id = m.user_id "
                           "WHERE u.username = 'hws' LIMIT 1").fetchone()[0]
    conn.commit()
    return tokens, {"case": case_id, "photo": photo, "message": message, "user": "matrix_target"}
