"""Every endpoint × every role: allowed or refused, as tests/access_matrix.py says (written out, not derived from
the code).

Allowed means the role gets past the role and scope checks: 2xx, or 409/422 from the case's state or the body.
Refused means 401 (no token), 403 (wrong role) or 404 (outside the scope: the case is not even confirmed).
"""
import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.access_matrix import (MATRIX, OPEN311, PAGES, ROLES, app_routes, call, concrete, html_routes,
                                 listed_pages, right_answer, right_page, seed, unlisted)
from tests.people import bearer


@pytest.fixture(scope="module")
def world(databases, chancheng_template, tmp_path_factory):
    from tests.conftest import url_for
    url = url_for(databases.create(template=chancheng_template))
    media_root = tmp_path_factory.mktemp("media")
    with psycopg.connect(url) as conn:
        tokens, ids = seed(conn, media_root)
    app = build_app(Settings(database_url=url, media_root=str(media_root)))
    with TestClient(app) as client:
        yield client, tokens, ids


@pytest.mark.parametrize("method, path, body, allowed", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_every_role_on_every_endpoint(world, method, path, body, allowed):
    client, tokens, ids = world
    path = path.format(**ids)
    anonymous = call(client, method, path, body, {"Authorization": ""})
    assert anonymous.status_code == 401 or (path == "/map" and anonymous.headers["location"] == "/login?next=/map")
    for role, user in ROLES.items():
        status = call(client, method, path, body, bearer(tokens[user])).status_code
        assert right_answer(role, allowed, method, status), (role, path, status)


@pytest.mark.parametrize("method, path, body, allowed", PAGES, ids=[f"{m} {p}" for m, p, _, _ in PAGES])
def test_every_role_on_every_page(world, method, path, body, allowed):
    client, tokens, ids = world
    path = path.format(**ids)
    anonymous = call(client, method, path, body, {"Authorization": ""})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    for role, user in ROLES.items():
        status = call(client, method, path, body, bearer(tokens[user])).status_code
        assert right_page(role, allowed, path, status), (role, path, status)


def test_every_page_of_the_app_is_listed_for_the_browser_drills(world):
    client, tokens, ids = world
    assert html_routes(client.app) - listed_pages() == set()
    # and by what they answer: every GET route that gives the administrator HTML is a listed page
    for method, route in sorted(app_routes(client.app)):
        if method == "GET" and route != "/api/events":
            answer = client.get(concrete(route, ids), headers=bearer(tokens["admin"]), follow_redirects=False)
            assert not answer.headers.get("content-type", "").startswith("text/html") or \
                (method, route) in listed_pages(), route


def test_the_matrix_covers_every_endpoint(world):
    client, _, _ = world
    assert unlisted(client.app) == set()
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
    from dispatch.api_clients import add_client

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
