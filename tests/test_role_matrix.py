"""Every endpoint × every role: allowed or refused, as the table below says (written out, not derived from the code).

Allowed means the role gets past the role and scope checks: 2xx, or 409/422 from the case's state or the body.
Refused means 401 (no token), 403 (wrong role) or 404 (outside the scope: the case is not even confirmed).
"""
import io

import psycopg
import pytest
from PIL import Image
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch import case_repo
from dispatch.cases import Request, act
from dispatch.intake import submit_report
from dispatch.models import Policy
from events.media import LocalMediaStore, clean_photo
from tests.people import actor, add_cast, bearer

ROLES = {"grid_officer": "officer", "intake": "intake", "dispatcher": "dispatcher", "handler": "hws",
         "dept_head": "hws_head", "shift_leader": "shift", "leader": "leader", "admin": "admin"}
EVERYONE = frozenset(ROLES)
CENTRE = frozenset({"leader", "admin", "shift_leader", "dispatcher", "dept_head"})

# (method, path, body) → the roles allowed. {case}: a closed case in 祖庙 handled by 祖庙 环卫所 (S-012-HWS);
# {photo}: its report-back photo; {message}: a notification in the handler's inbox.
MATRIX = [
    ("get", "/api/me", None, EVERYONE),
    ("get", "/api/locate?lon=113.12&lat=23.02", None, EVERYONE),
    ("get", "/api/categories", None, EVERYONE),
    ("get", "/api/departments", None, EVERYONE),
    ("get", "/api/rules", None, EVERYONE),
    ("get", "/api/rules/history", None, EVERYONE),
    ("get", "/api/layers/street", None, EVERYONE),
    ("get", "/map", None, EVERYONE),
    ("get", "/api/map/cases?west=112.9&south=22.9&east=113.3&north=23.2&zoom=12", None, EVERYONE),
    ("get", "/api/map/grid-load", None, EVERYONE),
    ("get", "/api/inbox", None, EVERYONE),
    ("get", "/api/cases?queue=open", None, EVERYONE),
    ("get", "/api/reports/nearby?category=0102&lon=113.12&lat=23.02", None, EVERYONE),
    ("get", "/api/cases/{case}", None, EVERYONE),
    ("get", "/api/cases/{case}/routing", None, EVERYONE),
    ("get", "/api/cases/{case}/duplicates", None, EVERYONE),
    ("get", "/api/media/{photo}", None, EVERYONE),
    ("get", "/api/evaluation?period=2026-11", None, CENTRE),
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


@pytest.fixture(scope="module")
def world(databases, chancheng_template, tmp_path_factory):
    from tests.conftest import url_for
    url = url_for(databases.create(template=chancheng_template))
    media_root = tmp_path_factory.mktemp("media")
    picture = io.BytesIO()
    Image.new("RGB", (4, 3), "green").save(picture, "PNG")
    stored = clean_photo(picture.getvalue())
    key = LocalMediaStore(media_root).put(stored)
    with psycopg.connect(url) as conn:
        tokens = add_cast(conn)
        case_id = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                                lat=23.02).case_id
        photo = case_repo.insert_attachment(conn, storage_key=key, content_type=stored.content_type,
                                            size_bytes=len(stored.content), width=4, height=3, sha256=stored.sha256,
                                            uploaded_by="hws")
        for action, who, request in (("accept", "hws", Request()),
                                     ("handle", "hws", Request(note="done", attachments=[photo])),
                                     ("check_ok", "officer", Request()), ("close", "shift", Request())):
            act(conn, case_id=case_id, action=action, actor=actor(who), policy=Policy(), request=request)
        case_repo.notify(conn, kind="case", payload={"case_id": case_id, "to": {"roles": ["handler"],
                         "department": "S-012-HWS"}, "subject": "for the matrix"})
        from dispatch.outbox import deliver
        deliver(conn)
        message = conn.execute("SELECT m.id FROM inbox_message m JOIN app_user u ON u.id = m.user_id "
                               "WHERE u.username = 'hws' LIMIT 1").fetchone()[0]
        conn.commit()
    app = build_app(Settings(database_url=url, media_root=str(media_root)))
    with TestClient(app) as client:
        yield client, tokens, {"case": case_id, "photo": photo, "message": message}


def call(client, method, path, body, headers):
    if isinstance(body, bytes):
        return client.request(method, path, content=body, headers=headers, follow_redirects=False)
    return client.request(method, path, json=body, headers=headers, follow_redirects=False)


@pytest.mark.parametrize("method, path, body, allowed", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_every_role_on_every_endpoint(world, method, path, body, allowed):
    client, tokens, ids = world
    path = path.format(**ids)
    anonymous = call(client, method, path, body, {"Authorization": ""})
    assert anonymous.status_code == 401 or (path == "/map" and anonymous.headers["location"] == "/login?next=/map")
    for role, user in ROLES.items():
        status = call(client, method, path, body, bearer(tokens[user])).status_code
        if role in allowed:
            assert status not in REFUSED and status < 500, (role, path, status)
            if method == "get":
                assert status == 200, (role, path, status)
        else:
            assert status in REFUSED, (role, path, status)


def test_the_matrix_covers_every_endpoint(world):
    client, _, _ = world
    listed = {(m.upper(), p.split("?")[0].replace("{case}", "{case_id}").replace("{photo}", "{media_id}")
               .replace("{message}", "{message_id}").replace("/2030", "/{year}").replace("/street", "/{level}"))
              for m, p, _, _ in MATRIX}
    listed = {(m, p if "/actions/" not in p else p.rsplit("/", 1)[0] + "/{action}") for m, p in listed}
    schema = {(m.upper(), p) for p, ops in client.app.openapi()["paths"].items() for m in ops}
    open311 = {(m.upper(), p.replace("{case}", "{request_id}").replace("{photo}", "{media_id}"))
               for m, p, _, _ in OPEN311}
    open311 = {(m, p.replace("/0102.json", "/{code}.{fmt}").replace("/unknown.json", "/{token}.{fmt}")
                .replace(".json", ".{fmt}").replace(".xml", ".{fmt}")) for m, p in open311}
    listed |= open311
    open_ones = {("GET", "/api/health"), ("POST", "/api/tokens"), ("DELETE", "/api/tokens/current")}
    streams = {("GET", "/api/events")}  # every signed-in role; filtered per case (tests/test_map_browser.py)
    assert schema - open_ones - streams - listed == set()
    assert client.get("/api/events", headers={"Authorization": ""}).status_code == 401


def test_a_handler_of_another_department_never_gets_the_case(world):
    client, tokens, ids = world
    other = bearer(tokens["cgzd"])
    for path in ("/api/cases/{case}", "/api/cases/{case}/routing", "/api/cases/{case}/duplicates",
                 "/api/media/{photo}"):
        response = client.get(path.format(**ids), headers=other)
        assert response.status_code == 404 and "S-012-HWS" not in response.text
    assert all(c["id"] != ids["case"] for c in client.get("/api/cases", headers=other).json())
    view = client.get("/api/map/cases?west=112.9&south=22.9&east=113.3&north=23.2&zoom=12", headers=other).json()
    assert view["mode"] == "points" and view["features"] == []
    assert client.get("/api/map/grid-load", headers=other).json() == {}
    acting = client.post(f"/api/cases/{ids['case']}/actions/accept", json={}, headers=other)
    assert acting.status_code in (403, 404) and "S-012-HWS" not in acting.text


@pytest.mark.parametrize("method, path, without_key, with_key", OPEN311, ids=[f"{m} {p}" for m, p, _, _ in OPEN311])
def test_open311_ignores_accounts_and_asks_a_key_to_post(world, method, path, without_key, with_key):
    from web.open311.clients import add_client

    client, tokens, ids = world
    path = path.format(**ids)
    if not hasattr(client, "open311_key"):
        with psycopg.connect(client.app.state.config.database_url) as conn:
            client.open311_key = add_client(conn, name="matrix", trust="trusted", rate_per_minute=1000)
            conn.commit()
    form = {"service_code": "0102", "lat": "23.02", "long": "113.12"}
    for who in [None, *ROLES.values()]:
        headers = bearer(tokens[who]) if who else {}
        answer = client.request(method, path, headers=headers, data=form if method == "post" else None)
        assert answer.status_code == without_key, (who, path, answer.status_code, answer.text)
    keyed = client.request(method, path, params={"api_key": client.open311_key} if method == "get" else None,
                           data={**form, "api_key": client.open311_key} if method == "post" else None)
    assert keyed.status_code == with_key, (path, keyed.text)
